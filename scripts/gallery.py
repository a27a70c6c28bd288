"""Writes docs/operations.md and its pictures, docs/gallery/*.webp: what each operation, filter and
preset does to a real photo, rendered by the engine itself (`make gallery`; tests/unit/test_gallery.py
fails when the committed page or pictures drift from what the engine makes, or miss an operation,
a filter or a preset of the catalogue).

    python scripts/gallery.py [--out DIR]     (DIR/operations.md and DIR/gallery/; default docs/)

Each example is one output of one render, as a job makes it: the photo made 240 px wide, then the
example's operations, encoded as WebP. Resize examples resize the photo itself, and presets run as
they are: a preset's outputs are full size, so its picture is its largest output made small by a
second render. The transparent logo of samples/ stands in where an operation is about transparency.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "layers" / "common")]

from pydantic import TypeAdapter  # noqa: E402

from imagejobs import engine  # noqa: E402
from imagejobs.deadline import Deadline  # noqa: E402
from imagejobs.errors import SourceNotFoundError  # noqa: E402
from imagejobs.spec import presets  # noqa: E402
from imagejobs.spec.operations import OPERATION_TYPES, FilterName, Operation  # noqa: E402
from imagejobs.spec.outputs import Output  # noqa: E402

PHOTO = ROOT / "docs" / "gallery" / "grace-hopper.jpg"
LOGO = ROOT / "samples" / "logo.png"
CREDIT = (
    "The photo is the official U.S. Navy portrait of Rear Admiral Grace Hopper (a work of the U.S. federal "
    "government, in the public domain), as matplotlib ships it in its sample data."
)
WIDTH = 240  # the photo's width in the examples
THUMB = 200  # the largest side of a preset's picture
QUALITY = 70
LOGO_UPLOAD = "upl_01KAZ5Y0000000000000000LOG"  # the watermark's upload: samples/logo.png
LIMITS = engine.Limits(max_source_pixels=100_000_000, max_output_dimension=16_384)
_OPERATIONS = TypeAdapter(list[Operation])
# Each operation's model, by its type: its docstring says what it does.
MODELS = {get_args(model.model_fields["type"].annotation)[0]: model for model in get_args(get_args(Operation)[0])}


@dataclass(frozen=True)
class Example:
    operation: str  # the section it is shown in: an operation's type
    operations: tuple[dict[str, Any], ...]  # what the row shows
    on_logo: bool = False  # made from samples/logo.png instead of the photo
    resized: bool = True  # after the photo is made WIDTH px wide (resize examples resize the photo itself)

    @property
    def name(self) -> str:
        first = self.operations[-1]
        if first["type"] == "filter":
            return f"filter-{first['name']}"
        return f"{self.operation}-{EXAMPLES.index(self) - _first_of(self.operation) + 1}"


def _resize(**params: Any) -> Example:
    return Example("resize", ({"type": "resize", **params},), resized=False)


def _op(kind: str, **params: Any) -> Example:
    return Example(kind, ({"type": kind, **params},))


def _on_logo(*operations: dict[str, Any]) -> Example:
    return Example(str(operations[-1]["type"]), operations, on_logo=True)


EXAMPLES: list[Example] = [
    _resize(width=160, height=160, fit="cover"),
    _resize(width=160, height=160, fit="cover", position="attention"),
    _resize(width=240, height=120, fit="cover", position="north"),
    _resize(width=160, height=160, fit="contain", background="#1e3a8a"),
    _resize(width=160, height=160, fit="inside"),
    _resize(width=160, height=160, fit="fill"),
    _resize(width=240, height=160, fit="blur_background"),
    _op("crop", width=120, height=120, gravity="attention"),
    _op("crop", x=60, y=20, width=120, height=150),
    _op("crop", width="50%", height="50%", gravity="southeast"),
    _op("rotate", angle=90),
    _op("rotate", angle=15, background="#ffffff"),
    _op("flip", direction="horizontal"),
    _op("flip", direction="vertical"),
    _op("pad", top=16, right=16, bottom=16, left=16, background="#ffd700"),
    _op("pad", left="20%", right="20%", background="#ffffff"),
    _on_logo({"type": "resize", "width": 160}, {"type": "trim"}),
    _op("blur", sigma=2),
    _op("blur", sigma=6),
    _op("sharpen"),
    _op("sharpen", sigma=2, amount=6),
    _op("adjust", brightness=1.4),
    _op("adjust", contrast=1.8),
    _op("adjust", saturation=0),
    _op("adjust", saturation=2.2),
    _op("adjust", hue=120),
    _op("adjust", gamma=2),
    *(_op("filter", name=name) for name in get_args(FilterName)),
    _op("zoom", level=5),
    _op("zoom", level=10, gravity="north"),
    _op("tint", color="#ff8800"),
    _op("tint", color="#0066ff80"),
    _op("auto_enhance"),
    _op("text", text="imagejobs", size=28, font="sans-bold", gravity="south", offset_y=12),
    _op("text", text="© 2026", size=16, font="mono", color="#ffd700", gravity="northwest", offset_x=8, offset_y=8),
    _op("watermark", upload_id=LOGO_UPLOAD, width="30%", gravity="southeast", offset_x=8, offset_y=8),
    _op("watermark", upload_id=LOGO_UPLOAD, width="60%", gravity="centre", opacity=0.35),
    _on_logo({"type": "resize", "width": 160}, {"type": "flatten", "background": "#ffd700"}),
]


def _first_of(operation: str) -> int:
    return next(index for index, example in enumerate(EXAMPLES) if example.operation == operation)


def _output(name: str, operations: list[dict[str, Any]]) -> Output:
    return Output(name=name, format="webp", quality=QUALITY, operations=_OPERATIONS.validate_python(operations))


def _render(source: bytes, outputs: list[Output]) -> dict[str, engine.Rendered]:
    _, rendered = engine.render(source, outputs, LIMITS, Deadline.unlimited(), _uploads)
    return {result.name: result for result in rendered}


def _uploads(upload_id: str) -> bytes:
    if upload_id != LOGO_UPLOAD:
        raise SourceNotFoundError(f"the gallery has no upload {upload_id}")
    return LOGO.read_bytes()


def _example_outputs(on_logo: bool) -> list[Output]:
    base = [{"type": "resize", "width": WIDTH}]
    return [
        _output(example.name, [*(base if example.resized else []), *example.operations])
        for example in EXAMPLES
        if example.on_logo == on_logo
    ]


def render_all() -> tuple[dict[str, engine.Rendered], dict[str, tuple[list[engine.Rendered], engine.Rendered]]]:
    """The examples' pictures by name (and the photo itself, `photo`), and each preset's outputs with its picture."""
    photo = PHOTO.read_bytes()
    pictures = _render(photo, [_output("photo", [{"type": "resize", "width": WIDTH}]), *_example_outputs(False)])
    pictures |= _render(LOGO.read_bytes(), _example_outputs(True))
    made = {}
    for name in presets.NAMES:
        _, outputs = engine.render(photo, presets.expand(name), LIMITS, Deadline.unlimited())
        largest = max((o for o in outputs if o.format != "ico"), key=lambda o: (o.width * o.height, o.format))
        thumb = {"type": "resize", "width": THUMB, "height": THUMB, "fit": "inside"}
        made[name] = (outputs, _render(largest.data, [_output(f"preset-{name}", [thumb])])[f"preset-{name}"])
    return pictures, made


def _about(operation: str) -> str:
    """What the operation's model says of it: its docstring's first paragraph, else its parameters'."""
    model = MODELS[operation]
    about = (model.__doc__ or "").split("\n\n")[0].strip()
    if about:
        return " ".join(about.split())
    described = [(name, field.description) for name, field in model.model_fields.items() if field.description]
    return "; ".join(f"`{name}`: {description}" for name, description in described) + "."


def _code(operations: tuple[dict[str, Any], ...]) -> str:
    return "<br>".join(f"`{json.dumps(operation, ensure_ascii=False)}`" for operation in operations)


def _picture(name: str, rendered: engine.Rendered) -> str:
    return f"![{name}](gallery/{name}.webp) {rendered.width}x{rendered.height}"


def page(pictures: dict[str, engine.Rendered], made: dict[str, tuple[list[engine.Rendered], engine.Rendered]]) -> str:
    lines = [
        "# What the operations do",
        "",
        "<!-- Generated by scripts/gallery.py (`make gallery`) from the engine itself; "
        "tests/unit/test_gallery.py keeps it in step. -->",
        "",
        "Each picture below is one output rendered by the engine, as a job renders it: the photo made "
        f'{WIDTH} px wide (`{{"type": "resize", "width": {WIDTH}}}`), then the operations of its row, '
        f'encoded as `{{"format": "webp", "quality": {QUALITY}}}`. Resize examples resize the photo itself. '
        "The operations and their parameters are in `GET /v1/operations` and the "
        "[API reference](api.md). " + CREDIT,
        "",
        f"| the photo, {WIDTH} px wide | the logo of `samples/`, for transparency |",
        "|---|---|",
        f"| {_picture('photo', pictures['photo'])} | ![logo](../samples/logo.png) 512x512, transparent around |",
        "",
    ]
    for operation in sorted(OPERATION_TYPES, key=_first_of):
        lines += [f"## {operation}", ""]
        lines += [_about(operation), ""]
        lines += ["| operations | result |", "|---|---|"]
        for example in (e for e in EXAMPLES if e.operation == operation):
            lines.append(f"| {_code(example.operations)} | {_picture(example.name, pictures[example.name])} |")
        lines.append("")
    lines += [
        "## Presets",
        "",
        "A preset stands for ordinary outputs (`GET /v1/presets`). Each picture is the preset's largest output, "
        f"made at most {THUMB} px on a side for this page; the sizes are the outputs' own.",
        "",
        "| preset | outputs | largest |",
        "|---|---|---|",
    ]
    for name, (outputs, _) in made.items():
        listed = "<br>".join(f"`{o.name}` {o.format} {o.width}x{o.height}" for o in outputs)
        lines.append(f"| `{name}` | {listed} | ![{name}](gallery/preset-{name}.webp) |")
    return "\n".join(lines) + "\n"


def write(out: Path) -> list[Path]:
    """Writes out/operations.md and out/gallery/*.webp; returns what it wrote."""
    pictures, made = render_all()
    (out / "gallery").mkdir(parents=True, exist_ok=True)
    written = []
    for name, rendered in [*pictures.items(), *((f"preset-{n}", p) for n, (_, p) in made.items())]:
        path = out / "gallery" / f"{name}.webp"
        path.write_bytes(rendered.data)
        written.append(path)
    markdown = out / "operations.md"
    markdown.write_text(page(pictures, made))
    return [markdown, *written]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    written = write(parser.parse_args().out)
    size = sum(path.stat().st_size for path in written[1:])
    print(f"wrote {written[0]} and {len(written) - 1} pictures ({size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
