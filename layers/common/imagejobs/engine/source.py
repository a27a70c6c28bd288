"""Reading a source: its real format, its header against the limits, then one decode per selected page.

Every format has a `Reader` that reads the header only (sizes, pages, animation frames); the
limits are checked on it (width x height x frames, summed over the selected pages) before
any pixel is decoded. Decoding gives 8-bit sRGB, upright, with or without alpha: CMYK,
16-bit, greyscale and palette sources all end there. An animated source decodes to one tall
image of its frames stacked, with `page-height`, `delay` and `loop` set (libvips' layout).
"""

from __future__ import annotations

import io
import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pyvips
from PIL import Image

from imagejobs.errors import (
    CorruptImageError,
    SourceNotFoundError,
    TooManyPixelsError,
    UnsupportedFormatError,
)
from imagejobs.formats import INPUTS, SNIFF_BYTES, page_ranges, sniff

DEFAULT_SVG_DPI = 72  # an SVG's own size


@dataclass(frozen=True)
class Page:
    number: int  # 1-based
    image: pyvips.Image  # upright 8-bit sRGB; an animation's frames stacked (`page-height`)


class Reader(ABC):
    """A source whose header is read and whose pixels are not, yet."""

    page_count = 1
    frames = 1  # animation frames, the same for every page

    @abstractmethod
    def size(self, index: int) -> tuple[int, int]:
        """The width and height of one frame of page `index` (0-based), from the header."""

    @abstractmethod
    def load(self, index: int) -> pyvips.Image:
        """Page `index` decoded: every frame, in whatever colour space and depth the source has."""

    def fit(self, indices: list[int], max_pixels: int) -> None:  # noqa: B027 - a hook only documents fill in
        """Lowers a resolution the client did not ask for, so that the pages fit the pixel limit."""


@dataclass(frozen=True)
class Header:
    format: str
    reader: Reader
    pages: list[int]  # the selected pages, 0-based


class VipsReader(Reader):
    """jpeg, png, webp, avif, tiff, gif, svg: libvips reads the header, then decodes on demand."""

    def __init__(self, loader: str, data: bytes, **options: object) -> None:
        self._loader, self._data, self._options = loader, data, options
        self._first = self._open()
        pages = self._first.get("n-pages") if self._first.get_typeof("n-pages") else 1
        self._animated = loader in ("gifload_buffer", "webpload_buffer") and pages > 1
        self.frames = pages if self._animated else 1
        self.page_count = pages if loader == "tiffload_buffer" else 1

    def _open(self, **options: object) -> pyvips.Image:
        try:
            return pyvips.Operation.call(self._loader, self._data, fail_on="error", **self._options, **options)
        except pyvips.Error as error:
            raise CorruptImageError(f"the {self._loader.removesuffix('load_buffer')} header cannot be read") from error

    def size(self, index: int) -> tuple[int, int]:
        header = self._first if index == 0 else self._open(page=index)
        return header.width, header.height

    def load(self, index: int) -> pyvips.Image:
        return self._open(n=-1) if self._animated else self._open(page=index) if index else self._first


class PillowReader(Reader):
    """bmp and ico (the largest icon), which libvips here cannot read."""

    def __init__(self, fmt: str, data: bytes) -> None:
        self._fmt = fmt
        try:
            with _quiet_bombs():
                self._picture = Image.open(io.BytesIO(data), formats=[fmt.upper()])
        except Image.DecompressionBombError as error:
            raise TooManyPixelsError(f"the {fmt} header claims too many pixels") from error
        except (OSError, SyntaxError, ValueError) as error:
            raise CorruptImageError(f"the {fmt} header cannot be read") from error

    def size(self, index: int) -> tuple[int, int]:
        return self._picture.size

    def load(self, index: int) -> pyvips.Image:
        try:
            with _quiet_bombs():
                self._picture.load()
        except (OSError, SyntaxError, ValueError) as error:
            raise CorruptImageError(f"the {self._fmt} image data is corrupt or truncated") from error
        return from_pillow(self._picture)


class HeifReader(Reader):
    """HEIC/HEIF: libvips here decodes AVIF but not HEVC, so pillow-heif does, imported only when one arrives.

    libheif applies the container's irot/imir transforms and pillow-heif resets the EXIF
    orientation to 1; no EXIF reaches libvips, so `autorot` cannot rotate a second time.
    """

    def __init__(self, data: bytes) -> None:
        import pillow_heif  # noqa: PLC0415 - only HEIC sources pay for it

        try:
            self._heif = pillow_heif.open_heif(data)
        except (ValueError, EOFError, SyntaxError, RuntimeError) as error:
            raise CorruptImageError("the heic header cannot be read") from error

    def size(self, index: int) -> tuple[int, int]:
        return self._heif.size

    def load(self, index: int) -> pyvips.Image:
        try:
            return from_pillow(self._heif.to_pillow())
        except (ValueError, EOFError, SyntaxError, RuntimeError) as error:
            raise CorruptImageError("the heic image data is corrupt or truncated") from error


def read_header(
    data: bytes, max_pixels: int, max_frames: int, pages: str | None = None, dpi: int | None = None
) -> Header:
    """The format the bytes really are, opened with only the header read, checked against the limits.

    Zero bytes are a `corrupt_image` (there is nothing to identify); bytes of no known image
    format are `unsupported_format`.
    """
    if not data:
        raise CorruptImageError("the source is empty")
    fmt = sniff(data[:SNIFF_BYTES])
    if fmt is None:
        raise UnsupportedFormatError(f"the source is not an image in a supported format ({', '.join(INPUTS)})")
    reader = _open(fmt, data, dpi)
    if reader.frames > max_frames:
        raise TooManyPixelsError(f"the source has {reader.frames} frames, above the limit of {max_frames}")
    indices = _select(pages, reader.page_count, fmt)
    reader.fit(indices, max_pixels)
    sizes = [reader.size(index) for index in indices]
    total = sum(width * height for width, height in sizes) * reader.frames
    if total > max_pixels:
        width, height = sizes[0]
        frames = f" x {reader.frames} frames" if reader.frames > 1 else ""
        pages_counted = f" on {len(sizes)} pages" if len(sizes) > 1 else ""
        raise TooManyPixelsError(
            f"the source is {width}x{height} pixels{frames}{pages_counted}, above the limit of {max_pixels} pixels"
        )
    return Header(fmt, reader, indices)


def decode(header: Header) -> list[Page]:
    """Decodes each selected page once: upright, 8-bit sRGB, held in memory for every output to share."""
    decoded = []
    for index in header.pages:
        image = header.reader.load(index)
        try:
            if header.reader.frames == 1:
                image = image.autorot()  # an animation's frames are stacked: turning the stack would scramble them
            decoded.append(Page(index + 1, _to_srgb(image).copy_memory()))
        except pyvips.Error as error:
            raise CorruptImageError(f"the {header.format} image data is corrupt or truncated") from error
    return decoded


def from_pillow(picture: Image.Image) -> pyvips.Image:
    """A Pillow image as an sRGB libvips image (RGB, or RGBA if it has transparency), its ICC profile kept."""
    if picture.mode not in ("RGB", "RGBA"):
        picture = picture.convert("RGBA" if picture.has_transparency_data else "RGB")
    image = pyvips.Image.new_from_memory(
        picture.tobytes(), picture.width, picture.height, len(picture.mode), "uchar"
    ).copy(interpretation="srgb")
    if icc := picture.info.get("icc_profile"):
        image.set_type(pyvips.GValue.blob_type, "icc-profile-data", icc)
    return image


def _open(fmt: str, data: bytes, dpi: int | None) -> Reader:
    match fmt:
        case "heic":
            return HeifReader(data)
        case "bmp" | "ico":
            return PillowReader(fmt, data)
        case "pdf":
            from imagejobs.engine.documents import PdfReader  # noqa: PLC0415 - only PDF sources load pymupdf

            return PdfReader(data, dpi)
        case "svg":
            from imagejobs.engine.svg import sanitise  # noqa: PLC0415 - only SVG sources need it

            return VipsReader("svgload_buffer", sanitise(data), dpi=dpi or DEFAULT_SVG_DPI)
        case "avif":
            return VipsReader("heifload_buffer", data)
        case _:
            return VipsReader(f"{fmt}load_buffer", data)


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


@contextmanager
def _quiet_bombs() -> Iterator[None]:
    """Pillow warns above its own pixel limit; ours is checked on the header right after."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        yield
