"""Presets: named sets of ordinary outputs, written as a client would write a job's `outputs`.

A job gives `"preset": "<name>"` instead of `outputs`; `imagejobs.services.jobs` expands it on create and
stores the expansion, so the job runs what it was created with and every engine feature applies.

Sizes are each platform's recommended upload size (as of 2025; README.md, "Presets", names the
sources). Platforms re-encode what they are sent, so those outputs are JPEG at quality 90: the
platform's own encode then starts from a clean image.

`responsive` is a width ladder with a `srcset` per format in the job document. The cap at the
source's width happens in the engine (`without_enlargement`): an upload's width is not known when
the job is created. A rung above the source's width therefore comes out at the source's width,
keeps its name (`webp-1920` always exists), and appears once in the `srcset`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

from pydantic import TypeAdapter

from imagejobs.spec.outputs import Output

RESPONSIVE_WIDTHS = (320, 640, 960, 1280, 1920)
RESPONSIVE_FORMATS = ("avif", "webp")
FAVICON_SIZES = (16, 32, 48)


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    outputs: tuple[dict[str, Any], ...]  # as in a job's `outputs`
    srcset: bool = False  # the job document carries a ready `srcset` per format

    @property
    def formats(self) -> set[str]:
        return {output["format"] for output in self.outputs}


def _post(name: str, width: int, height: int, quality: int = 90) -> dict[str, Any]:
    """A JPEG of exactly width x height, cropped to keep the most striking part (`attention`)."""
    resize = {"type": "resize", "width": width, "height": height, "fit": "cover", "position": "attention"}
    return {"name": name, "format": "jpeg", "quality": quality, "operations": [resize]}


def _icon(name: str, side: int, fmt: str = "png", *then: dict[str, Any]) -> dict[str, Any]:
    """A square icon: scaled to cover, the overflow cropped evenly (logos are centred)."""
    resize = {"type": "resize", "width": side, "height": side, "fit": "cover"}
    return {"name": name, "format": fmt, "operations": [resize, *then]}


PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset("instagram-feed", "Instagram feed post, 1080x1350 (4:5 portrait).", (_post("post", 1080, 1350),)),
        Preset("instagram-story", "Instagram story or reel cover, 1080x1920 (9:16).", (_post("story", 1080, 1920),)),
        Preset("twitter-post", "X (Twitter) in-stream image, 1600x900 (16:9).", (_post("post", 1600, 900),)),
        Preset("linkedin-post", "LinkedIn post image, 1200x627 (1.91:1).", (_post("post", 1200, 627),)),
        Preset(
            "youtube-thumbnail",
            "YouTube video thumbnail, 1280x720 (16:9), well under YouTube's 2 MB limit.",
            (_post("thumbnail", 1280, 720),),
        ),
        Preset("pinterest-pin", "Pinterest standard pin, 1000x1500 (2:3).", (_post("pin", 1000, 1500),)),
        Preset(
            "og-image",
            "Open Graph link preview (og:image) for Facebook, LinkedIn, Slack and others, 1200x630 (1.91:1).",
            (_post("og-image", 1200, 630, quality=85),),
        ),
        Preset(
            "favicon",
            "A site's icons: favicon.ico (16, 32 and 48 px), apple-touch-icon (180 px, flattened onto white: iOS "
            "shows transparency as black) and the web app manifest's 192 and 512 px PNGs.",
            (
                _icon("favicon", max(FAVICON_SIZES), "ico") | {"sizes": list(FAVICON_SIZES)},
                _icon("apple-touch-icon", 180, "png", {"type": "flatten", "background": "#ffffff"}),
                _icon("icon-192", 192),
                _icon("icon-512", 512),
            ),
        ),
        Preset(
            "responsive",
            f"Widths {', '.join(map(str, RESPONSIVE_WIDTHS))} (never wider than the source) in "
            f"{' and '.join(RESPONSIVE_FORMATS)}, named <format>-<width>, with a ready srcset per format.",
            tuple(
                {
                    "name": f"{fmt}-{width}",
                    "format": fmt,
                    "operations": [{"type": "resize", "width": width, "without_enlargement": True}],
                }
                for fmt in RESPONSIVE_FORMATS
                for width in RESPONSIVE_WIDTHS
            ),
            srcset=True,
        ),
    )
}

NAMES: tuple[str, ...] = tuple(PRESETS)


@cache
def _outputs() -> TypeAdapter[list[Output]]:
    return TypeAdapter(list[Output])


def expand(name: str) -> list[Output]:
    """The preset's outputs, validated like a client's."""
    return _outputs().validate_python(PRESETS[name].outputs)


class Candidate(Protocol):
    format: str
    width: int
    link: str
    cdn_url: str | None


def srcset(preset: str | None, outputs: Sequence[Candidate]) -> dict[str, str] | None:
    """Per format, `"<url> 320w, <url> 640w, …"` for a preset that makes one and has its outputs: their
    stable links, which last as long as the job (or their CDN addresses, where there is a CDN).

    Narrowest first, one candidate per width: rungs capped at the source's width come out alike.
    """
    made = PRESETS.get(preset) if preset else None
    if made is None or not made.srcset or not outputs:
        return None
    widths: dict[str, dict[int, str]] = {}
    for output in sorted(outputs, key=lambda output: output.width):
        widths.setdefault(output.format, {}).setdefault(output.width, output.cdn_url or output.link)
    return {fmt: ", ".join(f"{url} {width}w" for width, url in ladder.items()) for fmt, ladder in widths.items()}
