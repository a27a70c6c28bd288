"""Encoding one output: the format (`auto` picks), the quality (`auto` searches), then `max_bytes` (searches).

- `format: auto`: each of avif, webp, jpeg (or of the formats the output `accept`s) that the
  image allows (jpeg only without alpha, webp alone for an animation) is encoded, and the
  smallest wins.
- `format: jxl` with `lossless` and `keep_metadata`, from a JPEG source with no operations: the
  source's own bytes recompressed (reversible to the very file), when libjxl can.
- `quality: auto`: a binary search for the lowest quality whose SSIM against the unencoded
  image is at least `min_ssim` (`outputs.DEFAULT_MIN_SSIM` by default); about 7 encodes.
- `max_bytes`: when the output is larger, a binary search for the highest lower quality that
  fits; `target_size_unreachable` when not even quality 1 does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pyvips

from imagejobs.deadline import Deadline
from imagejobs.engine import codecs, frames, guard, similarity
from imagejobs.engine.readers.heif import HeifReader
from imagejobs.errors import TargetSizeUnreachableError, TooLargeError
from imagejobs.spec.formats import AUTO_CANDIDATES, FORMATS
from imagejobs.spec.outputs import DEFAULT_MIN_SSIM, Output


@dataclass(frozen=True)
class Encoded:
    format: str
    data: bytes
    width: int  # of one frame; of the largest icon of an ICO
    height: int


def encode(
    image: pyvips.Image, output: Output, deadline: Deadline, name: str, source_jpeg: bytes | None = None
) -> Encoded:
    """`name` is the output's as the client will see it, for the messages.

    `source_jpeg`: the source's bytes when it is a JPEG that `image` is, unchanged (no operations).
    The image is watched (`guard.watched`): the pixel work of every step before is done here, and
    stops at the deadline. A codec's error is `too_large` (`timeout` past the deadline).
    """
    if source_jpeg is not None and output.format == "jxl" and output.lossless and output.keep_metadata:
        deadline.check(f"{name}: recompress the jpeg as jxl")
        if (data := codecs.jxl_from_jpeg(source_jpeg)) is not None:
            return Encoded("jxl", data, image.width, frames.frame_height(image))
    image = guard.watched(image, deadline)
    if output.format != "auto":
        return _encode_as(output.format, image, output, deadline, name)
    encodings = (_encode_as(fmt, image, output, deadline, name) for fmt in auto_candidates(output, image))
    return min(encodings, key=lambda encoded: len(encoded.data))


def auto_candidates(output: Output, image: pyvips.Image | None = None) -> tuple[str, ...]:
    """What `auto` tries for an image: of the accepted formats, webp alone for an animation (if accepted),
    else those that hold its alpha channel (or all of them, flattened, when none does).

    Without an image: those that may be tried at all.
    """
    accepted: tuple[str, ...] = tuple(output.accept or AUTO_CANDIDATES)
    if image is None:
        return accepted
    if frames.is_animated(image) and "webp" in accepted:
        return ("webp",)
    return tuple(f for f in accepted if FORMATS[f].alpha or not image.hasalpha()) or accepted


def _encode_as(fmt: str, image: pyvips.Image, output: Output, deadline: Deadline, name: str) -> Encoded:
    def at(quality: int) -> bytes:
        deadline.check(f"{name}: encode as {fmt} at quality {quality}")
        return codecs.encode(fmt, image, output, quality)

    with guard.failing_as(TooLargeError, f"output '{name}': encoding as {fmt}", deadline, also=codecs.ERRORS):
        if output.quality == "auto":
            quality, data = _lowest_similar(fmt, image, at, output.min_ssim or DEFAULT_MIN_SSIM)
        else:
            quality = output.quality or FORMATS[fmt].default_quality or 0
            data = at(quality)
        if output.max_bytes is not None and len(data) > output.max_bytes:
            data = _highest_fitting(at, quality, len(data), output.max_bytes, name)
    if fmt == "ico":
        side = max(output.sizes or codecs.ICO_SIZES)
        return Encoded(fmt, data, side, side)
    return Encoded(fmt, data, image.width, frames.frame_height(image))


def _lowest_similar(fmt: str, image: pyvips.Image, at: Callable[[int], bytes], min_ssim: float) -> tuple[int, bytes]:
    """The lowest quality (and its bytes) whose first frame keeps `min_ssim`; 100 if none does."""
    reference = frames.first(image)
    low, high, found = 1, 99, (100, b"")
    while low <= high:
        middle = (low + high) // 2
        data = at(middle)
        if similarity.ssim(reference, _decoded(fmt, data)) >= min_ssim:
            found, high = (middle, data), middle - 1
        else:
            low = middle + 1
    quality, data = found
    return quality, data or at(quality)


def _highest_fitting(at: Callable[[int], bytes], above: int, size: int, max_bytes: int, name: str) -> bytes:
    """The bytes at the highest quality below `above` (which gave `size` bytes) that fit in `max_bytes`."""
    low, high, fitting, smallest = 1, above - 1, b"", size
    while low <= high:
        middle = (low + high) // 2
        data = at(middle)
        if len(data) <= max_bytes:
            fitting, low = data, middle + 1
        else:
            smallest, high = len(data), middle - 1
    if not fitting:
        raise TargetSizeUnreachableError(
            f"output '{name}': {smallest} bytes at the lowest quality, above max_bytes {max_bytes}"
        )
    return fitting


def _decoded(fmt: str, data: bytes) -> pyvips.Image:
    if fmt == "jxl":
        from imagejobs.engine.readers.jxl import JxlReader  # noqa: PLC0415 - only JXL outputs load libjxl

        return JxlReader(data).load(0)
    return HeifReader(data).load(0) if fmt == "heic" else pyvips.Image.new_from_buffer(data, "")
