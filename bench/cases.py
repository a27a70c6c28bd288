"""The cases of the benchmark (issue 3, item 7) and the implementations each one runs.

A case is one input and a list of outputs, each a plain dict every implementation understands
(`format`, `quality`, and an optional resize: `width`, `height`, `fit`, `without_enlargement`).
Case f takes its outputs from the engine's `responsive` preset when the engine has one, so sharp
makes exactly the set the engine makes.
"""

# ruff: noqa: RUF001 - the multiplication sign is the report's typography

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "layers" / "common") not in sys.path:
    sys.path.insert(0, str(ROOT / "layers" / "common"))

from imagejobs.spec import presets  # noqa: E402
from imagejobs.spec.formats import FORMATS  # noqa: E402

# sharp's defaults, used where an output leaves quality unset and the engine says nothing either
SHARP_DEFAULT_QUALITY = {"jpeg": 80, "webp": 80, "avif": 50, "heic": 50, "png": None}


@dataclass(frozen=True)
class Impl:
    key: str
    label: str
    role: str  # "sharp" | "ours" | "peer" | "hand"


IMPLS = {
    impl.key: impl
    for impl in (
        Impl("sharp", "sharp", "sharp"),
        Impl("sharp-separate", "sharp, one pipeline per output", "sharp"),
        Impl("ours", "ours (engine.render)", "ours"),
        Impl("ours-1", "ours, one thread (engine and libvips)", "ours"),
        Impl("limit", "limit: one decode + the encodes alone", "hand"),
        Impl("cascade", "by hand: one decode + the rungs' scaling + the encodes", "hand"),
        Impl("pillow", "Pillow, naive", "peer"),
        Impl("vips-thumb", "pyvips by hand: thumbnail_buffer", "hand"),
        Impl("vips-once", "pyvips by hand: one shrunk decode", "hand"),
        Impl("heif-pillow", "by hand: pillow-heif→Pillow→libvips", "hand"),
        Impl("heif-buffer", "by hand: pillow-heif buffer→libvips", "hand"),
    )
}


@dataclass
class Case:
    key: str
    title: str
    input: str  # a key of inputs.INPUTS
    outputs: list[dict[str, Any]]
    impls: list[str]
    iterations: int  # the default; BENCH_ITERATIONS overrides every case
    notes: list[str] = field(default_factory=list)
    warmup: bool = True  # one unmeasured run first (off where one run takes many seconds)
    preset: str | None = None  # ours renders this preset's own outputs (the others get them as `outputs`)


def _ladder() -> list[dict[str, Any]]:
    """The responsive preset's outputs as plain bench outputs."""
    return [_plain(output) for output in presets.PRESETS["responsive"].outputs]


def _plain(output: dict[str, Any]) -> dict[str, Any]:
    """A preset output (as a job's `outputs` entry) as a bench output: one resize at most."""
    plain: dict[str, Any] = {"name": output["name"], "format": output["format"], "quality": output.get("quality")}
    if "effort" in output:
        plain["effort"] = output["effort"]
    for operation in output.get("operations", []):
        if operation["type"] != "resize":
            raise ValueError(f"the bench knows resize only, not {operation['type']}")
        plain |= {k: operation[k] for k in ("width", "height", "fit", "without_enlargement") if k in operation}
    return plain


def _fill_quality(outputs: list[dict[str, Any]]) -> list[str]:
    """Gives every output the quality the engine will use, so sharp and Pillow are told the same."""
    notes = []
    for output in outputs:
        if output.get("quality") is None and output["format"] != "png":
            quality = FORMATS[output["format"]].default_quality
            source = "the engine's default"
            if quality is None:
                quality, source = SHARP_DEFAULT_QUALITY[output["format"]], "sharp's default"
            output["quality"] = quality
            note = f"{output['format']} quality unset in the preset: {source}, {quality}, for every implementation"
            if note not in notes:
                notes.append(note)
    return notes


LADDER_WIDTHS = (1920, 1280, 960, 640, 320)


def _rungs(fmt: str, quality: int) -> list[dict[str, Any]]:
    return [{"name": f"{fmt}{width}", "format": fmt, "quality": quality, "width": width} for width in LADDER_WIDTHS]


def cases() -> dict[str, Case]:
    ladder = _ladder()
    ladder_notes = ["outputs: imagejobs.spec.presets.PRESETS['responsive']", *_fill_quality(ladder)]
    photo = ["sharp", "ours", "pillow", "vips-thumb"]
    return {
        case.key: case
        for case in (
            Case(
                "a",
                "12 MP JPEG → 800 w WebP q80",
                "jpeg12",
                [{"name": "a", "format": "webp", "quality": 80, "width": 800}],
                photo,
                5,
            ),
            Case(
                "b",
                "12 MP JPEG → 1920 w JPEG q85",
                "jpeg12",
                [{"name": "b", "format": "jpeg", "quality": 85, "width": 1920}],
                photo,
                5,
            ),
            Case(
                "c",
                "24 MP JPEG → 400×400 cover AVIF q50",
                "jpeg24",
                [{"name": "c", "format": "avif", "quality": 50, "width": 400, "height": 400, "fit": "cover"}],
                photo,
                4,
                ["effort: each implementation's default (sharp 4; Pillow speed 6; ours: the engine's default)"],
            ),
            Case(
                "d",
                "2000² RGBA PNG → WebP q80",
                "png_rgba",
                [{"name": "d", "format": "webp", "quality": 80}],
                ["sharp", "ours", "pillow"],
                4,
            ),
            Case(
                "e",
                "12 MP HEIC → JPEG q80",
                "heic12",
                [{"name": "e", "format": "jpeg", "quality": 80}],
                ["sharp", "ours", "pillow", "heif-pillow", "heif-buffer"],
                3,
                ["sharp is expected to fail: its prebuilt libvips has no HEVC decoder"],
            ),
            Case(
                "f",
                "12 MP JPEG → responsive preset (320…1920 w × avif, webp)",
                "jpeg12",
                ladder,
                ["sharp", "sharp-separate", "ours", "pillow", "vips-thumb", "vips-once"],
                2,
                ladder_notes,
                warmup=False,
                preset="responsive",
            ),
            # Real photographs (photos.py): ladders, single outputs, and one job on several threads.
            Case(
                "g",
                "real 6 MP JPEG → JPEG ladder (1920…320 w, q80)",
                "photo6",
                _rungs("jpeg", 80),
                ["sharp", "ours", "limit", "cascade"],
                5,
                [
                    "limit: the engine's decode and encoder, the rungs scaled beforehand (untimed); by hand: the same "
                    "with each rung scaled from the one above (lanczos3), timed — the floor of a correct ladder"
                ],
            ),
            Case(
                "h",
                "real 6 MP photo as WebP → WebP ladder (1920…320 w, q80)",
                "photo6_webp",
                _rungs("webp", 80),
                ["sharp", "ours", "limit", "cascade"],
                3,
                ["the 1920 w rung needs the whole WebP decoded (2725 w: 1/2 would be 1363 w)"],
            ),
            Case(
                "i",
                "real 8 MP phone JPEG → WebP ladder (1920…320 w, q80)",
                "photo8",
                _rungs("webp", 80),
                ["sharp", "ours", "limit", "cascade"],
                3,
            ),
            Case(
                "j",
                "real 6 MP JPEG → 800 w WebP q80",
                "photo6",
                [{"name": "j", "format": "webp", "quality": 80, "width": 800}],
                ["sharp", "ours"],
                5,
            ),
            Case(
                "k",
                "real 8 MP JPEG → 1920 w JPEG q85",
                "photo8",
                [{"name": "k", "format": "jpeg", "quality": 85, "width": 1920}],
                ["sharp", "ours"],
                5,
            ),
            Case(
                "t",
                "real 8 MP JPEG → 6 outputs (1920, 1600 and 1280 w, each WebP q80 and AVIF q50)",
                "photo8",
                [
                    {"name": f"t{fmt}{width}", "format": fmt, "quality": quality, "width": width}
                    for width in (1920, 1600, 1280)
                    for fmt, quality in (("webp", 80), ("avif", 50))
                ],
                ["ours-1", "ours"],
                4,
                [
                    "threaded mode: ours renders the outputs on a thread per core; 'one thread' is the same job "
                    "with one thread for the engine and libvips alike, in the same run (single mode: both one)"
                ],
            ),
        )
    }
