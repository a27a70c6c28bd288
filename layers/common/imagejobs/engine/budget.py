"""What a job will spend, estimated from the source's header and the outputs before anything is decoded.

- Work units (`spec.geometry.work_units`): the pixels the job encodes, every selected page times
  every output times that output's pixels (and the frames an animation keeps); `too_large` above
  the limit. The API counts the same for a request whose page count it knows, before any source.
- Memory: the decoded pages stay in memory together for every output to share (pixels x bands x
  frames, each page); while one page is decoded, its decoder's own copy (and the rasters an SVG
  embeds) is held beside them; while an output is encoded, its result is held whole for the
  encoder, with the encoded bytes (`_HELD`). The peak, the decoded pages plus the larger of those
  two, must fit the memory a job may use: `too_many_pixels` when decoding the source alone does
  not, `too_large` when an output does not. The ladder's kept rungs (`ladder.plan`) are held beside
  the decode. Outputs rendered at once (on several threads) each hold theirs: as many run at once as
  fit, the largest counted first, up to the threads given.
"""

from __future__ import annotations

from collections.abc import Sequence

from imagejobs.engine import ladder
from imagejobs.engine.source import Header
from imagejobs.errors import TooLargeError, TooManyPixelsError
from imagejobs.spec.formats import FORMATS
from imagejobs.spec.geometry import MAX_RENDERED_OUTPUTS, output_size, work_units
from imagejobs.spec.outputs import Output

_MB = 1_000_000
_OUTPUT_BANDS = 4  # an output may gain alpha on the way (pad, rotate, text)
# Copies of an output's pixels held while it is encoded: jpeg, png and tiff stream their rows out
# and hold the encoded bytes only; the others hold the whole image and the bytes; `auto` also holds
# the smallest encoding so far, and `quality: auto` decodes each encoding to compare it.
_HELD = {"jpeg": 1, "png": 1, "tiff": 1, "auto": 3}
_HELD_OTHERWISE = 2


def check_work(header: Header, outputs: Sequence[Output], max_work_units: int) -> None:
    reader = header.reader
    renderings = len(outputs) * len(header.pages)
    if renderings > MAX_RENDERED_OUTPUTS:
        raise TooLargeError(
            f"the job would make {renderings} outputs ({len(outputs)} outputs on {len(header.pages)} pages), "
            f"above the limit of {MAX_RENDERED_OUTPUTS}"
        )
    units = work_units(outputs, [reader.upright_size(index) for index in header.pages], reader.frames)
    if units > max_work_units:
        pages = f" on {len(header.pages)} pages" if len(header.pages) > 1 else ""
        raise TooLargeError(
            f"the job would encode {units} pixels ({len(outputs)} outputs{pages}), "
            f"above the limit of {max_work_units} work units"
        )


def check_memory(
    header: Header, outputs: Sequence[Output], max_memory_bytes: int, max_side: int, threads: int = 1
) -> int:
    """How many outputs may be rendered at once (at most `threads`) within `max_memory_bytes`; fails
    when not even one may."""
    reader = header.reader
    pages = [reader.size(index) for index in header.pages]
    each_page = [width * height * reader.frames * reader.bands for width, height in pages]
    decoded = sum(each_page)
    decoding = max(each_page) + reader.embedded_pixels * 4
    if decoded + decoding > max_memory_bytes:
        raise TooManyPixelsError(
            f"decoding the source needs about {(decoded + decoding) // _MB} MB, "
            f"above the {max_memory_bytes // _MB} MB a job may use"
        )
    if len(header.pages) == 1 and reader.frames == 1:  # the ladder's kept rungs (as if the decode were whole)
        page = reader.upright_size(header.pages[0])
        rungs = ladder.plan(outputs, page, page, max_side)
        decoded += sum(rung.size[0] * rung.size[1] * reader.bands for rung in rungs if rung.kept)
    held = []
    for output in outputs:
        for index in header.pages:
            held.append(_held(output, reader.upright_size(index), reader.frames))
            if decoded + held[-1] > max_memory_bytes:
                raise TooLargeError(
                    f"output '{output.name}' needs about {(decoded + held[-1]) // _MB} MB with the decoded source, "
                    f"above the {max_memory_bytes // _MB} MB a job may use"
                )
    largest = sorted(held, reverse=True)
    at_once = max(1, min(threads, len(held)))
    while at_once > 1 and decoded + sum(largest[:at_once]) > max_memory_bytes:
        at_once -= 1
    return at_once


def _held(output: Output, page: tuple[int, int], frames: int) -> int:
    """The bytes an output holds while it is encoded."""
    size = output_size(page, output.operations)
    kept = frames if output.format == "auto" or FORMATS[output.format].animation else 1
    copies = _HELD.get(output.format, _HELD_OTHERWISE) + (output.quality == "auto")
    return size[0] * size[1] * kept * _OUTPUT_BANDS * copies
