"""The formats catalogue, free of codecs so the API functions can use it without the codec layer.

`FORMATS` is machine-readable (published at GET /v1/formats through `catalogue()`): per format its
content types and extensions (the first of each is the one outputs get), whether it can be read
and written, whether it holds alpha, animation or several pages, and the `Output` fields that
apply to it. `auto` is the one output format that is not a file format: it picks the smallest of
`AUTO_CANDIDATES` (or of the formats the output `accept`s) that the image's alpha channel allows.

Camera RAWs are read, never written: one entry per camera family that sniffing tells apart (dng,
cr2, cr3, nef, arw, raf, orf, rw2, pef, srw) and `raw` for the other sensors' files LibRaw reads.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Literal

from imagejobs.spec.headers import JXL_CODESTREAM, JXL_CONTAINER, raw_kind

OutputFormat = Literal["jpeg", "png", "webp", "avif", "heic", "jxl", "tiff", "gif", "bmp", "ico", "pdf", "auto"]
AutoFormat = Literal["avif", "webp", "jpeg", "jxl"]

# The options of a lossy codec that also has a lossless mode.
_LOSSY = ("quality", "min_ssim", "max_bytes", "lossless", "effort", "keep_metadata")


@dataclass(frozen=True)
class Format:
    name: str
    content_types: tuple[str, ...]  # the first is what outputs are served as; the others clients may send
    extensions: tuple[str, ...]  # the first is what outputs are stored with
    read: bool
    write: bool
    alpha: bool = False  # holds transparency (written outputs keep it; the others are flattened onto white)
    animation: bool = False  # holds animation frames (read and, if `write`, written)
    multipage: bool = False  # holds pages a source selects with `pages`
    options: tuple[str, ...] = ()  # the `Output` fields that apply when writing it
    default_quality: int | None = None
    notes: str = ""

    @property
    def content_type(self) -> str:
        return self.content_types[0]

    @property
    def extension(self) -> str:
        return self.extensions[0]


# Camera RAWs: (name, content types, extensions), one per family sniffing tells apart; `raw` for the rest.
_CAMERA_RAWS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("dng", ("image/x-adobe-dng", "image/dng"), ("dng",)),
    ("cr2", ("image/x-canon-cr2",), ("cr2",)),
    ("cr3", ("image/x-canon-cr3",), ("cr3",)),
    ("nef", ("image/x-nikon-nef", "image/x-nikon-nrw"), ("nef", "nrw")),
    ("arw", ("image/x-sony-arw", "image/x-sony-sr2", "image/x-sony-srf"), ("arw", "sr2", "srf")),
    ("raf", ("image/x-fuji-raf",), ("raf",)),
    ("orf", ("image/x-olympus-orf",), ("orf",)),
    ("rw2", ("image/x-panasonic-rw2", "image/x-panasonic-raw"), ("rw2", "rwl")),
    ("pef", ("image/x-pentax-pef",), ("pef",)),
    ("srw", ("image/x-samsung-srw",), ("srw",)),
    (
        "raw",
        (
            "image/x-dcraw", "image/x-canon-crw", "image/x-epson-erf", "image/x-hasselblad-3fr",
            "image/x-kodak-dcr", "image/x-kodak-kdc", "image/x-mamiya-mef", "image/x-minolta-mrw",
            "image/x-sigma-x3f",
        ),
        ("3fr", "crw", "dcr", "erf", "kdc", "mef", "mrw", "x3f"),
    ),
)  # fmt: skip

FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format(
            "jpeg",
            ("image/jpeg", "image/jpg", "image/pjpeg"),
            ("jpg", "jpeg", "jpe", "jfif"),
            read=True,
            write=True,
            options=("quality", "min_ssim", "max_bytes", "progressive", "effort", "keep_metadata"),
            default_quality=80,
        ),
        Format(
            "png",
            ("image/png",),
            ("png",),
            read=True,
            write=True,
            alpha=True,
            options=("progressive", "effort", "keep_metadata"),
            notes="Always lossless; the first frame of an animated source.",
        ),
        Format(
            "webp",
            ("image/webp",),
            ("webp",),
            read=True,
            write=True,
            alpha=True,
            animation=True,
            options=_LOSSY,
            default_quality=80,
            notes="At most 16383 pixels per side.",
        ),
        Format(
            "avif",
            ("image/avif",),
            ("avif",),
            read=True,
            write=True,
            alpha=True,
            options=_LOSSY,
            default_quality=50,
            notes="The first frame of an animated source.",
        ),
        Format(
            "heic",
            ("image/heic", "image/heif", "image/heic-sequence", "image/heif-sequence"),
            ("heic", "heif", "hif"),
            read=True,
            write=True,
            alpha=True,
            options=_LOSSY,
            default_quality=50,
            notes="Read: the primary image.",
        ),
        Format(
            "jxl",
            ("image/jxl",),
            ("jxl",),
            read=True,
            write=True,
            alpha=True,
            options=_LOSSY,
            default_quality=75,
            notes="Read: the first frame. Written by `auto` only when the output `accept`s jxl. `lossless` from a "
            "JPEG source with no operations and `keep_metadata`: the JPEG itself recompressed, typically 20 % smaller, "
            "from which `djxl` rebuilds the original file byte for byte.",
        ),
        Format(
            "tiff",
            ("image/tiff",),
            ("tiff", "tif"),
            read=True,
            write=True,
            alpha=True,
            multipage=True,
            options=("compression", "quality", "keep_metadata"),
            default_quality=75,
            notes="`quality` applies to jpeg and webp compression.",
        ),
        Format(
            "gif",
            ("image/gif",),
            ("gif",),
            read=True,
            write=True,
            alpha=True,
            animation=True,
            options=("colors", "dither", "effort", "progressive"),
            notes="256 colours at most, 1-bit transparency.",
        ),
        Format(
            "bmp",
            ("image/bmp", "image/x-bmp", "image/x-ms-bmp"),
            ("bmp",),
            read=True,
            write=True,
        ),
        Format(
            "ico",
            ("image/x-icon", "image/vnd.microsoft.icon"),
            ("ico",),
            read=True,
            write=True,
            alpha=True,
            options=("sizes",),
            notes="Read: the largest icon. Written: one icon per `sizes` entry (default 16, 32, 48).",
        ),
        Format(
            "svg",
            ("image/svg+xml",),
            ("svg",),
            read=True,
            write=False,
            alpha=True,
            notes="Sanitised (no scripts, event handlers, external references or DTD entities), rendered at `dpi`.",
        ),
        Format(
            "pdf",
            ("application/pdf",),
            ("pdf",),
            read=True,
            write=True,
            alpha=False,
            multipage=True,
            options=("quality", "lossless"),
            default_quality=80,
            notes="Read: `pages` rendered at `dpi`. Written: one page, one point per pixel, the image as JPEG "
            "(or losslessly, with `lossless` or transparency).",
        ),
        *(
            Format(
                name,
                content_types,
                extensions,
                read=True,
                write=False,
                notes="Camera RAW through LibRaw: the camera's white balance, upright, sRGB; decoded at half the "
                "sensor's size when every output is at most that.",
            )
            for name, content_types, extensions in _CAMERA_RAWS
        ),
        Format(
            "auto",
            (),
            (),
            read=False,
            write=True,
            alpha=True,
            options=("quality", "min_ssim", "max_bytes", "effort", "keep_metadata", "accept"),
            notes="The smallest of avif, webp and jpeg (jpeg only without transparency) at the quality asked; "
            "`accept` names the formats the client takes instead (jxl only when it is named).",
        ),
    )
}
AUTO_CANDIDATES: tuple[AutoFormat, ...] = ("avif", "webp", "jpeg")
RAW_FORMATS = frozenset(name for name, _, _ in _CAMERA_RAWS)
INPUTS: dict[str, Format] = {name: f for name, f in FORMATS.items() if f.read}
OUTPUTS: dict[str, Format] = {name: f for name, f in FORMATS.items() if f.write}
INPUT_CONTENT_TYPES: frozenset[str] = frozenset(t for f in INPUTS.values() for t in f.content_types)


def catalogue() -> list[dict[str, Any]]:
    """Every format as JSON-ready data, for GET /v1/formats."""
    return [{**asdict(f), "content_type": f.content_type if f.content_types else None} for f in FORMATS.values()]


# An SVG's prologue, then its root: every piece ends at its first possible end, so matching is linear.
_SVG_ROOT = re.compile(
    rb"\s*(?:<\?[^>]*>\s*|<!--(?:(?!-->).)*-->\s*|<!DOCTYPE[^>\[]*(?:\[[^\]]*\])?\s*>\s*)*<(?:\w+:)?svg[\s>/]",
    re.DOTALL,
)
SNIFF_BYTES = 4096  # enough for an SVG's prologue (XML declaration, comments, DOCTYPE) before its root
# The formats a file's first bytes name on their own.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "jpeg"), (b"\x89PNG\r\n\x1a\n", "png"), (b"GIF87a", "gif"), (b"GIF89a", "gif"),
    (b"%PDF-", "pdf"), (JXL_CODESTREAM, "jxl"), (JXL_CONTAINER, "jxl"),
    (b"IIRO", "orf"), (b"IIRS", "orf"), (b"MMOR", "orf"), (b"IIU\x00", "rw2"), (b"FUJIFILMCCD-RAW", "raf"),
    (b"\x00MRM", "raw"), (b"FOVb", "raw"),  # Minolta MRW, Sigma X3F
)  # fmt: skip
_HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}


def sniff(data: bytes) -> str | None:  # noqa: PLR0911 (a return per signature reads best)
    """The input format the bytes of a file are, whatever its name or content type says.

    The first `SNIFF_BYTES` name it, except for a file that starts like a TIFF: its directories tell
    a camera RAW (whose sensor data may lie anywhere in the file) from a TIFF picture.
    """
    head = data[:SNIFF_BYTES]
    if named := next((fmt for signature, fmt in _SIGNATURES if head.startswith(signature)), None):
        return named
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return raw_kind(data) or "tiff"
    if head[:2] == b"II" and head[6:14] == b"HEAPCCDR":
        return "raw"  # Canon CRW
    if head[:2] == b"BM" and head[14:15] in (b"\x0c", b"\x28", b"\x38", b"\x40", b"\x6c", b"\x7c"):
        return "bmp"  # "BM", then a DIB header size the format knows
    if head[:4] == b"\x00\x00\x01\x00" and head[4:6] != b"\x00\x00":
        return "ico"  # reserved 0, type 1 (icon), at least one image
    if head[4:8] == b"ftyp":
        brands = {head[i : i + 4] for i in range(8, min(len(head), 64), 4)}
        if brands & {b"avif", b"avis"}:
            return "avif"
        if b"crx " in brands:
            return "cr3"
        if brands & _HEIC_BRANDS:
            return "heic"
    if _SVG_ROOT.match(head.removeprefix(b"\xef\xbb\xbf")):
        return "svg"
    return None


_PAGES = re.compile(r"^\d+(-\d*)?(,\d+(-\d*)?)*$")


def page_ranges(pages: str) -> list[tuple[int, int | None]]:
    """ "1-3,5,8-" as [(1, 3), (5, 5), (8, None)]: 1-based, inclusive, None for "to the last page"."""
    if not _PAGES.match(pages):
        raise ValueError("must be page numbers and ranges like 1-3,5,8-")
    ranges: list[tuple[int, int | None]] = []
    for part in pages.split(","):
        first, dash, last = part.partition("-")
        end = (int(last) if last else None) if dash else int(first)
        if int(first) < 1 or (end is not None and end < int(first)):
            raise ValueError(f"'{part}' is not a range of pages from 1 upwards")
        ranges.append((int(first), end))
    return ranges
