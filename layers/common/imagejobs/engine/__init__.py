"""The image engine: bytes in, one decode, then each output's pipeline and encoding.

The order of work, in one place (`render`):

1. `source.read_header`: the real format from the bytes, the header only, the pixel limit.
2. `source.decode`: one decode, upright (EXIF orientation) and in sRGB (ICC honoured), into
   memory that every output shares (libvips images are immutable).
3. per output: its operations in order (`operations.apply`), the time budget checked and the
   output dimension limit enforced between steps, then `encode.encode` (metadata stripped).

libvips evaluates lazily: the pixel work of step 3 happens while encoding.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pyvips

from imagejobs.deadline import Deadline
from imagejobs.engine import encode, operations, source
from imagejobs.errors import SourceNotFoundError, TooManyPixelsError
from imagejobs.formats import OUTPUTS
from imagejobs.outputs import Output

__all__ = ["Limits", "Rendered", "SourceInfo", "render"]


@dataclass(frozen=True)
class Limits:
    max_source_pixels: int
    max_output_dimension: int


@dataclass(frozen=True)
class SourceInfo:
    """The source as sniffed and decoded; width and height are after EXIF orientation."""

    format: str
    width: int
    height: int


@dataclass(frozen=True)
class Rendered:
    name: str
    format: str
    width: int
    height: int
    data: bytes
    content_type: str
    extension: str


def _no_uploads(upload_id: str) -> bytes:
    raise SourceNotFoundError(f"upload {upload_id} is not available here")


def render(
    data: bytes,
    outputs: Sequence[Output],
    limits: Limits,
    deadline: Deadline,
    load_upload: Callable[[str], bytes] = _no_uploads,
) -> tuple[SourceInfo, list[Rendered]]:
    fmt, header = source.read_header(data, limits.max_source_pixels)
    deadline.check("decode")
    image = source.decode(fmt, header, data)
    info = SourceInfo(format=fmt, width=image.width, height=image.height)
    context = operations.Context(load_upload=load_upload)
    return info, [_render_output(image, output, limits, deadline, context) for output in outputs]


def _render_output(
    image: pyvips.Image, output: Output, limits: Limits, deadline: Deadline, context: operations.Context
) -> Rendered:
    # Each operation's result is held to the limit, as later steps compute it; with no operations the
    # output is the source as it is.
    for index, operation in enumerate(output.operations):
        step = f"operation {index} ({operation.type})"
        deadline.check(f"{output.name}: {step}")
        image = operations.apply(image, operation, context)
        _check_dimensions(image, output.name, step, limits)
    if not output.operations:
        _check_dimensions(image, output.name, "the source", limits)
    deadline.check(f"{output.name}: encode")
    fmt = OUTPUTS[output.format]
    return Rendered(
        name=output.name,
        format=fmt.name,
        width=image.width,
        height=image.height,
        data=encode.encode(image, output),
        content_type=fmt.content_type,
        extension=fmt.extension,
    )


def _check_dimensions(image: pyvips.Image, name: str, made_by: str, limits: Limits) -> None:
    if max(image.width, image.height) > limits.max_output_dimension:
        raise TooManyPixelsError(
            f"output '{name}': {made_by} gives {image.width}x{image.height} pixels, "
            f"above the limit of {limits.max_output_dimension} per side"
        )
