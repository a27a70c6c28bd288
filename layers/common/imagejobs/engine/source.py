"""Reading a source: its real format, its header against the limits, then one decode per selected page.

Every format has a `Reader` that reads the header only (sizes, pages, animation frames); the
limits are checked on it (width x height x frames, summed over the selected pages, and the
images an SVG embeds) before any pixel is decoded. Decoding gives 8-bit sRGB, upright, with or
without alpha: CMYK, 16-bit, greyscale and palette sources all end there. An animated source decodes to one tall
image of its frames stacked, with `page-height`, `delay` and `loop` set (libvips' layout).

Shrink-on-load: given the smallest (upright) size the outputs need, a JPEG decodes at 1/2, 1/4
or 1/8 of its size (libjpeg's scaled IDCT) and a WebP at such a scale (libwebp's own scaling),
the largest shrink that still gives at least that size, and a camera RAW at half size (LibRaw's
2x2 binning of the sensor) when that is enough; other formats decode whole.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, replace

import pyvips

from imagejobs.deadline import Deadline
from imagejobs.engine import guard
from imagejobs.engine.frames import frame_height
from imagejobs.engine.readers import open_reader
from imagejobs.engine.readers.base import Reader, Size
from imagejobs.errors import (
    CorruptImageError,
    SourceNotFoundError,
    TooManyPixelsError,
    UnsupportedFormatError,
)
from imagejobs.spec.formats import INPUTS, page_ranges, sniff
from imagejobs.spec.headers import declared_size


@dataclass(frozen=True)
class Page:
    number: int  # 1-based
    image: pyvips.Image  # upright 8-bit sRGB; an animation's frames stacked (`page-height`); maybe shrunk on load
    width: int  # of one upright frame of the source page itself, whatever size it was decoded at
    height: int

    @property
    def shrunk(self) -> bool:
        """Decoded smaller than the source page (shrink-on-load): a first resize must scale for the page's size."""
        return (self.image.width, frame_height(self.image)) != (self.width, self.height)


@dataclass(frozen=True)
class Header:
    format: str
    reader: Reader
    pages: list[int]  # the selected pages, 0-based


def read_header(
    data: bytes, max_pixels: int, max_frames: int, pages: str | None = None, dpi: int | None = None
) -> Header:
    """The format the bytes really are, opened with only the header read, checked against the limits.

    Zero bytes are a `corrupt_image` (there is nothing to identify); bytes of no known image
    format are `unsupported_format`. A header its codec refuses to open is still `too_many_pixels`
    when the size it declares is over the limit (codecs have limits of their own).
    """
    if not data:
        raise CorruptImageError("the source is empty")
    fmt = sniff(data)
    if fmt is None:
        raise UnsupportedFormatError(f"the source is not an image in a supported format ({', '.join(INPUTS)})")
    try:
        reader = open_reader(fmt, data, dpi)
    except (CorruptImageError, UnsupportedFormatError) as error:
        declared = declared_size(fmt, data)
        if declared is not None and declared[0] * declared[1] > max_pixels:
            raise TooManyPixelsError(
                f"the source is {declared[0]}x{declared[1]} pixels, above the limit of {max_pixels} pixels"
            ) from error
        raise
    if reader.frames > max_frames:
        raise TooManyPixelsError(f"the source has {reader.frames} frames, above the limit of {max_frames}")
    indices = _select(pages, reader.page_count, fmt)
    reader.fit(indices, max_pixels)
    sizes = [reader.size(index) for index in indices]
    total = sum(width * height for width, height in sizes) * reader.frames + reader.embedded_pixels
    if total > max_pixels:
        width, height = sizes[0]
        frames = f" x {reader.frames} frames" if reader.frames > 1 else ""
        pages_counted = f" on {len(sizes)} pages" if len(sizes) > 1 else ""
        embedded = f" and embeds images of {reader.embedded_pixels} pixels" if reader.embedded_pixels else ""
        raise TooManyPixelsError(
            f"the source is {width}x{height} pixels{frames}{pages_counted}{embedded}, "
            f"above the limit of {max_pixels} pixels"
        )
    return Header(fmt, reader, indices)


def decode(header: Header, deadline: Deadline, at_least: Size | None = None, held: bool = True) -> list[Page]:
    """Decodes each selected page once: upright, 8-bit sRGB, held in memory for every output to share.

    With `at_least` (an upright width and height) and one still page selected, the page is decoded
    shrunk where its format can, to no less than that (`Page.shrunk`). The deadline is checked
    before each page and watched while libvips decodes it. Not `held`: each page is only opened, its
    pixels computed by what first reads them (`hold`, or `ladder.make` streaming it into one rung);
    their failures must then be `decoding`'s.
    """
    reader, decoded = header.reader, []
    shrunk = None
    if at_least is not None and len(header.pages) == 1 and reader.frames == 1:
        shrunk = reader.load_shrunk(header.pages[0], at_least)
    loaded = iter([shrunk]) if shrunk is not None else reader.load_pages(header.pages, deadline)
    for index in header.pages:
        with decoding(header.format, deadline):
            image = next(loaded)
            if reader.frames == 1:
                image = image.autorot()  # an animation's frames are stacked: turning the stack would scramble them
            image = guard.watched(_to_srgb(image), deadline)
            if held:
                image = image.copy_memory()
        width, height = reader.upright_size(index) if shrunk is not None else (image.width, frame_height(image))
        decoded.append(Page(index + 1, image, width, height))
    return decoded


def hold(pages: list[Page], fmt: str, deadline: Deadline) -> list[Page]:
    """Pages `decode`d but not held, computed into memory."""
    with decoding(fmt, deadline):
        return [replace(page, image=page.image.copy_memory()) for page in pages]


def decoding(fmt: str, deadline: Deadline) -> AbstractContextManager[None]:
    """A decode's failures as the job's: `corrupt_image`, or `too_many_pixels` out of memory."""
    return guard.failing_as(CorruptImageError, f"decoding the {fmt}", deadline, out_of_memory=TooManyPixelsError)


def upright_size(header: Header) -> Size:
    """The first selected page's width and height once upright, from the header."""
    return header.reader.upright_size(header.pages[0])


def _select(pages: str | None, page_count: int, fmt: str) -> list[int]:
    """The 0-based indices of the pages `pages` selects (default the first), every one of them existing."""
    indices: list[int] = []
    for first, last in page_ranges(pages or "1"):
        end = page_count if last is None else last
        if end > page_count or first > page_count:
            counted = f"{page_count} pages" if page_count > 1 else "one page (animation frames are not pages)"
            raise SourceNotFoundError(f"pages {pages}: the {fmt} source has {counted}")
        indices.extend(index for index in range(first - 1, end) if index not in indices)
    return indices


def _to_srgb(image: pyvips.Image) -> pyvips.Image:
    # An unusable embedded profile is ignored by libvips, which then assumes sRGB.
    if image.get_typeof("icc-profile-data"):
        image = image.icc_transform("srgb", embedded=True, intent="perceptual")
    image = image.colourspace("srgb")  # also 16-bit to 8-bit, and grey to RGB
    return image if image.format == "uchar" else image.cast("uchar")
