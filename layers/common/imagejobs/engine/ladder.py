"""Many outputs from one decode: each size the outputs first scale to (a rung) is made once, from the
cheapest larger image at hand.

Outputs that start with a `resize` scale the decoded page to a size before they crop, pad or do
anything else (`operations.resize_geometry`). Their distinct sizes (reductions only) are the rungs
of a ladder, made largest first. A rung is scaled from a larger rung at least as large both ways (a
cascade) or from the decode itself (shrunk on load to just above the largest rung,
`source.decode`), whichever costs less by the cost model, measured in
`bench/README.md` ("Ladders"): scaling costs about `_SCALE` per pixel of the image scaled from, and
keeping a rung in memory so that a smaller one can start from it costs about `_KEEP` per pixel of
the kept rung (its pixels are written once and read twice). A rung is kept when more than one
output uses it, or when a smaller rung is cheaper made from it. Scaling a lanczos3 result again
loses little: every rung stays within 0.5 % SSIM of the same rung scaled from a whole decode
(`tests/unit/test_ladder.py`).

`plan` is geometry only (the budget counts the kept rungs' memory before anything is decoded, as if
the decode were whole: that keeps at least as many);
`make` computes the kept rungs, in order, the deadline watched; when one rung alone is scaled from the
decode (`streams`), the decode is not held first but streams into that rung.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass

import pyvips

from imagejobs.deadline import Deadline
from imagejobs.engine import guard
from imagejobs.errors import TooLargeError
from imagejobs.spec.geometry import resize_geometry
from imagejobs.spec.operations import Resize
from imagejobs.spec.outputs import Output

type Size = tuple[int, int]

# Measured by bench/ladder_costs.py on three real photographs (bench/README.md, "Ladders"), CPU ns per pixel,
# one thread: thumbnail_image of an in-memory sRGB image costs 3.2-4.0 per pixel scaled from (median over
# 1.4-8x reductions; plus about 2 ms a call, the same whichever image it starts from), and keeping a rung in
# memory (computed once, then read by its encoder and by the smaller rung) 0.4-2.7 per pixel of the rung.
_SCALE = 3.5
_KEEP = 1.0


@dataclass(frozen=True)
class Rung:
    size: Size
    source: Size | None  # the rung it is scaled from; None: the decode
    users: int  # outputs whose first resize scales to it
    kept: bool  # computed into memory once (used by several outputs, or the source of a smaller rung)


def plan(outputs: Sequence[Output], page: Size, decoded: Size, max_side: int) -> list[Rung]:
    """The rungs of the outputs' first resizes on a page of upright size `page`, decoded at `decoded`
    (shrunk on load, or the page's size), largest first.

    Only reductions no larger than `max_side` are rungs: an enlargement, or a size over the output
    limit, is left to its output (which fails on it before any pixel is computed).
    """
    users: dict[Size, int] = {}
    for output in outputs:
        first = output.operations[0] if output.operations else None
        if isinstance(first, Resize):
            size = resize_geometry(*page, first)[0]
            if size != page and size[0] <= page[0] and size[1] <= page[1] and max(size) <= max_side:
                users[size] = users.get(size, 0) + 1
    sizes = sorted(users, key=lambda size: (size[0] * size[1], size), reverse=True)
    sources: dict[Size, Size | None] = {}
    kept = {size for size, count in users.items() if count > 1}
    for index, size in enumerate(sizes):
        best: Size | None = None
        cost = _SCALE * decoded[0] * decoded[1]
        for larger in sizes[:index]:
            if size[0] > larger[0] or size[1] > larger[1]:
                continue
            area = larger[0] * larger[1]
            from_larger = _SCALE * area + (0 if larger in kept else _KEEP * area)
            if from_larger < cost:
                best, cost = larger, from_larger
        sources[size] = best
        if best is not None:
            kept.add(best)
    return [Rung(size, sources[size], users[size], size in kept) for size in sizes]


def streams(rungs: Sequence[Rung], decoded: Size) -> bool:
    """Whether one rung alone is scaled from the decode (`decoded` its size), and smaller: then the decode
    need not be held in memory; it can stream, row by row, into that rung (`make`)."""
    from_decode = [rung.size for rung in rungs if rung.source is None]
    return len(from_decode) == 1 and from_decode[0] != decoded


def make(
    image: pyvips.Image, rungs: Sequence[Rung], deadline: Deadline, streamed: AbstractContextManager[None] | None = None
) -> dict[Size, pyvips.Image]:
    """Every rung of `image` (the decode), largest first: the kept ones computed into memory, the others lazy.

    A rung the size of the decode is the decode itself. Fails as `too_large` (`timeout` past the deadline).
    `streamed`: `image` is the decode not yet computed (`streams`), and this the context its failures are
    the decode's in; the one rung made from it is computed into memory (and with it the decode).
    """
    made: dict[Size, pyvips.Image] = {}
    for rung in rungs:
        deadline.check(f"scale to {rung.size[0]}x{rung.size[1]}")
        start = image if rung.source is None else made[rung.source]
        if (start.width, start.height) == rung.size:
            made[rung.size] = start
            continue
        from_stream = streamed if rung.source is None else None
        scaling = f"scaling to {rung.size[0]}x{rung.size[1]}"
        with from_stream if from_stream is not None else guard.failing_as(TooLargeError, scaling, deadline):
            scaled = start.thumbnail_image(rung.size[0], height=rung.size[1], size="force")
            held = rung.kept or from_stream is not None
            made[rung.size] = guard.watched(scaled, deadline).copy_memory() if held else scaled
    return made
