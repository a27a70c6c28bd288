"""The sizes an output's operations give, planned without pixels, and the work units of a job.

Codec-free, like the rest of `spec`: the engine checks a job's work on the source's header with
these, and the API can count a request's work before there is a source:
`work_units(outputs, [None] * selected_pages(pages))` when the selection is closed.

Work units are the pixels a job encodes: for every selected page and every output, the output's
width x height (its last operation's result), times the animation frames it keeps; each such
rendering counts at least `MIN_RENDER_PIXELS`, the fixed cost of an encode. Decoding is not
counted: the source pixel limit bounds it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import overload

from imagejobs.spec.formats import FORMATS, page_ranges
from imagejobs.spec.operations import Crop, Operation, Pad, Resize, Rotate, percentage
from imagejobs.spec.outputs import Output

type Size = tuple[int, int]

MIN_RENDER_PIXELS = 512 * 512
# Outputs a job makes at most (its outputs x its selected pages): what sizes its record (400 KB in
# DynamoDB), its events (256 KB in EventBridge) and its document (6 MB from Lambda) for the worst case.
MAX_RENDERED_OUTPUTS = 200


X, Y = 0, 1  # the axis a pixel value measures: horizontal (a width, an x) or vertical


def pixels(value: int | str, size: Size, axis: int) -> int:
    """A pixel value in whole pixels, on `axis` of an image of `size` (width, height).

    "50%" is of the side on that axis, "50w" of the width, "50h" of the height.
    """
    share = percentage(value)
    if share is None:
        return int(value)
    percent, of = share
    side = size[axis] if of == "%" else size[X] if of == "w" else size[Y]
    return round(side * percent / 100)


def length(value: int | str, size: Size, axis: int) -> int:
    """A width or height in whole pixels, at least 1."""
    return max(1, pixels(value, size, axis))


def resize_geometry(width: int, height: int, op: Resize) -> tuple[Size, Size]:
    """(the size to scale a widthxheight image to, the size of the result) for a resize, as sharp does.

    One side given: the other follows the aspect ratio. Both given: `fill` stretches to them,
    `inside` fits within them, `contain` and `blur_background` fit within them and fill the rest
    of exactly them, `cover` fills them and crops the overflow, `outside` covers them uncropped.
    `without_enlargement` caps each scale at 1, so a small source is never scaled up: `cover`
    then crops to at most the target, `contain` still pads to exactly the target. Percentages
    are of the image's width and height ("50h" as a width: half the height).
    """
    target_width = length(op.width, (width, height), X) if op.width is not None else None
    target_height = length(op.height, (width, height), Y) if op.height is not None else None
    hscale = target_width / width if target_width else math.inf
    vscale = target_height / height if target_height else math.inf
    fit = op.fit if target_width and target_height else "inside"
    if fit in ("cover", "outside"):
        hscale = vscale = max(hscale, vscale)
    elif fit in ("contain", "inside", "blur_background"):
        hscale = vscale = min(hscale, vscale)
    if op.without_enlargement:
        hscale, vscale = min(hscale, 1.0), min(vscale, 1.0)
    scaled = (max(1, int(width * hscale + 0.5)), max(1, int(height * vscale + 0.5)))
    target = (target_width or scaled[0], target_height or scaled[1])
    if fit == "cover":
        return scaled, (min(scaled[0], target[0]), min(scaled[1], target[1]))
    if fit in ("contain", "blur_background"):
        return scaled, target
    return scaled, scaled


@overload
def output_size(size: Size, operations: Sequence[Operation]) -> Size: ...
@overload
def output_size(size: None, operations: Sequence[Operation]) -> Size | None: ...
def output_size(size: Size | None, operations: Sequence[Operation]) -> Size | None:
    """The size the operations make of an image of `size`, at most (a trim is taken to cut nothing).

    With no `size` (no source yet), the size only the operations fix: a resize to a box it fills
    exactly, and what later operations make of that; None when the source's size still matters.
    """
    for op in operations:
        if isinstance(op, Resize):
            size = resize_geometry(*size, op)[1] if size is not None else _fixed(op)
        elif size is None:
            continue
        elif isinstance(op, Crop):
            size = _cropped(size, op)
        elif isinstance(op, Pad):
            size = _padded(size, op)
        elif isinstance(op, Rotate):
            size = _rotated(size, op.angle)
    return size


def work_units(outputs: Sequence[Output], pages: Sequence[Size | None], frames: int = 1) -> int:
    """The work units of rendering `outputs` from each of `pages` (each page's upright size, None if not known).

    `frames` counts for the outputs whose format keeps an animation; unknown sizes count the least
    an output is (`output_size`, else `MIN_RENDER_PIXELS`), so that without a source this is the
    least work the request can be.
    """
    total = 0
    for output in outputs:
        kept = frames if output.format == "auto" or FORMATS[output.format].animation else 1
        for page in pages:
            size = output_size(page, output.operations)
            total += max(MIN_RENDER_PIXELS, size[0] * size[1] * kept if size is not None else 0)
    return total


def selected_pages(pages: str | None) -> int | None:
    """How many pages a source's `pages` selects (the first by default); None when a range is open ("3-")."""
    selected: set[int] = set()
    for first, last in page_ranges(pages or "1"):
        if last is None:
            return None
        selected.update(range(first, last + 1))
    return len(selected)


def _fixed(op: Resize) -> Size | None:
    """The size a resize gives whatever it is given: a box in whole pixels that it fills exactly."""
    exact = op.fit in ("fill", "contain", "blur_background") or (op.fit == "cover" and not op.without_enlargement)
    if exact and isinstance(op.width, int) and isinstance(op.height, int):
        return op.width, op.height
    return None


def _cropped(size: Size, op: Crop) -> Size:
    """As the crop step cuts: the region, cut to the image."""
    width, height = size
    cut_width, cut_height = min(length(op.width, size, X), width), min(length(op.height, size, Y), height)
    if op.x is None or op.y is None:
        return cut_width, cut_height
    x, y = min(pixels(op.x, size, X), width - 1), min(pixels(op.y, size, Y), height - 1)
    return min(cut_width, width - x), min(cut_height, height - y)


def _padded(size: Size, op: Pad) -> Size:
    width, height = size
    across = pixels(op.left, size, X) + pixels(op.right, size, X)
    down = pixels(op.top, size, Y) + pixels(op.bottom, size, Y)
    return width + across, height + down


def _rotated(size: Size, angle: float) -> Size:
    """The box a rotation by `angle` degrees fits the image in (multiples of 90 turn it exactly)."""
    width, height = size
    turns = angle % 360
    if turns % 90 == 0:
        return (height, width) if turns % 180 else (width, height)
    cos, sin = abs(math.cos(math.radians(turns))), abs(math.sin(math.radians(turns)))
    return math.ceil(width * cos + height * sin) + 1, math.ceil(width * sin + height * cos) + 1
