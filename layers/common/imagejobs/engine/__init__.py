"""The image engine: bytes in, one decode, then each output's pipeline and encoding.

The order of work, in one place (`render`):

1. `source.read_header`: the real format from the bytes, the header only, checked against the
   pixel limit (width x height x animation frames, over every selected page) and the frame limit.
   Then `budget`: the job's work units (pages x outputs x output pixels) and its memory, estimated
   from the header and the outputs, checked against their limits before any pixel is decoded.
2. `source.decode`: each selected page decoded once, upright (EXIF orientation) and in 8-bit sRGB
   (ICC honoured), into memory that every output shares (libvips images are immutable). When
   every output starts with a resize (`decode_size`), a JPEG or WebP is decoded shrunk: by the
   largest of 2, 4, 8 that keeps it at least as large as each output's resize scales to before
   its crop or padding (a camera RAW at half size, when that is enough); that first resize is
   then planned on the source's own size (`operations.resize_from`), so every output comes out
   the size it would from a full decode.
3. per output and page: its operations in order (`operations.apply`), frame by frame for an
   animation the output format can hold (gif, webp; other formats get the first frame), the
   time budget checked and the output dimension limit enforced between steps; then
   `encode.encode` (format, quality and size searches; metadata stripped).
4. with `analysis`: `analysis.analyse` on the first decoded page (a thumbnail of it, and the EXIF
   block the reader already has), after the outputs, so that it never delays or fails them.

Several selected pages give each output once per page, named `<output>-p<page>`.
libvips evaluates lazily: the pixel work of step 3 happens while encoding, on an image `guard`
watches so that it stops at the deadline. A library's error in a step becomes that step's stable
code where it happens (`guard.failing_as`): `corrupt_image` decoding, `too_large` in an operation
or an encoding, `timeout` once the deadline has passed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import pyvips

from imagejobs.deadline import Deadline
from imagejobs.engine import analysis as analysing
from imagejobs.engine import budget, encode, frames, guard, operations, source
from imagejobs.errors import SourceNotFoundError, TooLargeError, TooManyPixelsError
from imagejobs.spec.documents import Analysis
from imagejobs.spec.formats import FORMATS
from imagejobs.spec.operations import Resize
from imagejobs.spec.outputs import Output
from imagejobs.spec.requests import AnalysisRequest

__all__ = ["Limits", "Rendered", "SourceInfo", "decode_size", "render"]


@dataclass(frozen=True)
class Limits:
    max_source_pixels: int
    max_output_dimension: int
    max_frames: int = 500
    max_work_units: int = 400_000_000  # pixels encoded, all pages and outputs (`spec.geometry.work_units`)
    max_memory_bytes: int = 1536 * 2**20  # the function's memory less what the runtime and libraries take


@dataclass(frozen=True)
class SourceInfo:
    """The source as sniffed; width and height are of its first selected page, upright (not of a shrunk decode).
    `analysis` when `render` was asked for it."""

    format: str
    width: int
    height: int
    analysis: Analysis | None = None


@dataclass(frozen=True)
class Rendered:
    name: str  # the output's, or `<output>-p<page>` when several pages are selected
    format: str  # the output's, or what `auto` chose
    width: int  # of one frame
    height: int
    data: bytes
    content_type: str
    extension: str
    page: int | None = None  # the source page, when several are selected


def _no_uploads(upload_id: str) -> bytes:
    raise SourceNotFoundError(f"upload {upload_id} is not available here")


def render(
    data: bytes,
    outputs: Sequence[Output],
    limits: Limits,
    deadline: Deadline,
    load_upload: Callable[[str], bytes] = _no_uploads,
    *,
    pages: str | None = None,
    dpi: int | None = None,
    analysis: AnalysisRequest | None = None,
    traced: Callable[[str], AbstractContextManager[object]] = lambda _: nullcontext(),
) -> tuple[SourceInfo, list[Rendered]]:
    """`traced(name)` wraps each step (the decode, each output, the analysis): the worker's trace subsegments."""
    header = source.read_header(data, limits.max_source_pixels, limits.max_frames, pages, dpi)
    budget.check_work(header, outputs, limits.max_work_units)
    budget.check_memory(header, outputs, limits.max_memory_bytes)
    deadline.check("decode")
    with traced("decode"):
        decoded = source.decode(header, deadline, decode_size(outputs, source.upright_size(header)))
    context = operations.Context(
        load_upload, limits.max_source_pixels, limits.max_frames, limits.max_output_dimension, deadline
    )
    jpeg = data if header.format == "jpeg" else None
    rendered = []
    for output in outputs:
        for page in decoded:
            with traced(f"output {output.name}"):
                rendered.append(
                    _render_output(page, output, limits, deadline, context, numbered=len(decoded) > 1, jpeg=jpeg)
                )
    analysed = None
    if analysis is not None:
        with traced("analysis"):
            analysed = analysing.analyse(decoded[0].image, header.reader, header.pages[0], analysis, deadline)
    return SourceInfo(header.format, decoded[0].width, decoded[0].height, analysed), rendered


def decode_size(outputs: Sequence[Output], size: tuple[int, int]) -> tuple[int, int] | None:
    """The smallest decode of a `size` source every output can be made from as well as from the whole: None for whole.

    That is when every output's first operation is a resize: the largest size they scale to, before
    a `cover` crops or a `contain` pads (the pixel values of every other operation are of the source).
    """
    widths, heights = [], []
    for output in outputs:
        first = output.operations[0] if output.operations else None
        if not isinstance(first, Resize):
            return None
        (width, height), _ = operations.resize_geometry(*size, first)
        widths.append(width)
        heights.append(height)
    need = (max(widths, default=size[0]), max(heights, default=size[1]))
    return need if need[0] < size[0] and need[1] < size[1] else None


def _render_output(
    page: source.Page,
    output: Output,
    limits: Limits,
    deadline: Deadline,
    context: operations.Context,
    *,
    numbered: bool,
    jpeg: bytes | None = None,
) -> Rendered:
    """`jpeg`: the source's bytes when it is a JPEG (an output without operations may recompress them)."""
    name = f"{output.name}-p{page.number}" if numbered else output.name
    formats = encode.auto_candidates(output) if output.format == "auto" else (output.format,)
    animates = any(FORMATS[fmt].animation for fmt in formats)
    layers = frames.split(page.image) if animates and frames.is_animated(page.image) else [frames.first(page.image)]
    # Each operation's result is held to the limit, as later steps compute it; with no operations the
    # output is the source as it is.
    for index, operation in enumerate(output.operations):
        step = f"operation {index} ({operation.type})"
        frames_in_turn = _in_turn(layers, deadline, f"{name}: {step}")
        with guard.failing_as(TooLargeError, f"output '{name}': {step}", deadline):
            if index == 0 and page.shrunk and isinstance(operation, Resize):
                layers = [
                    operations.resize_from(layer, operation, (page.width, page.height)) for layer in frames_in_turn
                ]
            else:
                layers = [operations.apply(layer, operation, context) for layer in frames_in_turn]
        _check_dimensions(layers, name, step, limits)
    if not output.operations:
        _check_dimensions(layers, name, "the source", limits)
    with guard.failing_as(TooLargeError, f"output '{name}': joining its {len(layers)} frames", deadline):
        image = frames.join(layers, like=page.image) if len(layers) > 1 else layers[0]
    encoded = encode.encode(image, output, deadline, name, None if output.operations else jpeg)
    fmt = FORMATS[encoded.format]
    return Rendered(
        name=name,
        format=fmt.name,
        width=encoded.width,
        height=encoded.height,
        data=encoded.data,
        content_type=fmt.content_type,
        extension=fmt.extension,
        page=page.number if numbered else None,
    )


def _in_turn(layers: list[pyvips.Image], deadline: Deadline, step: str) -> Iterator[pyvips.Image]:
    """The frames one by one, the deadline checked before each."""
    for layer in layers:
        deadline.check(step)
        yield layer


def _check_dimensions(layers: list[pyvips.Image], name: str, made_by: str, limits: Limits) -> None:
    for image in layers:
        if max(image.width, image.height) > limits.max_output_dimension:
            raise TooManyPixelsError(
                f"output '{name}': {made_by} gives {image.width}x{image.height} pixels, "
                f"above the limit of {limits.max_output_dimension} per side"
            )
