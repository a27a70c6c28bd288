"""The formats catalogue, free of codecs so the API functions can use it without the codec layer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

OutputFormat = Literal["jpeg", "png", "webp"]


@dataclass(frozen=True)
class Format:
    name: str
    content_type: str
    extension: str
    aliases: tuple[str, ...] = ()  # other content types clients send for it


INPUTS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("jpeg", "image/jpeg", "jpg", ("image/jpg", "image/pjpeg")),
        Format("png", "image/png", "png"),
        Format("webp", "image/webp", "webp"),
        Format("avif", "image/avif", "avif"),
        Format("heic", "image/heic", "heic", ("image/heif", "image/heic-sequence", "image/heif-sequence")),
        Format("tiff", "image/tiff", "tiff"),
        Format("gif", "image/gif", "gif"),
    )
}
OUTPUTS: dict[str, Format] = {name: INPUTS[name] for name in ("jpeg", "png", "webp")}

INPUT_CONTENT_TYPES: frozenset[str] = frozenset(
    content_type for f in INPUTS.values() for content_type in (f.content_type, *f.aliases)
)


def sniff(head: bytes) -> str | None:  # noqa: PLR0911 (a return per signature reads best)
    """The input format named by the first bytes of a file, whatever its name or content type says."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head[4:8] == b"ftyp":
        brands = {head[i : i + 4] for i in range(8, min(len(head), 64), 4)}
        if brands & {b"avif", b"avis"}:
            return "avif"
        if brands & {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}:
            return "heic"
    return None
