"""Reading a source: its real format, its header against the limits, then one decode per selected page.

Every format has a `Reader` that reads the header only (sizes, pages, animation frames); the
limits are checked on it (width x height x frames, summed over the selected pages) before
any pixel is decoded. Decoding gives 8-bit sRGB, upright, with or without alpha: CMYK,
16-bit, greyscale and palette sources all end there. An animated source decodes to one tall
image of its frames stacked, with `page-height`, `delay` and `loop` set (libvips' layout).

Shrink-on-load: given the smallest (upright) size the outputs need, a JPEG decodes at 1/2, 1/4
or 1/8 of its size (libjpeg's scaled IDCT) and a WebP at such a scale (libwebp's own scaling),
the largest shrink that still gives at least that size; other formats decode whole.
"""

from __future__ import annotations

import io
import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyvips

from imagejobs.engine.frames import frame_height
from imagejobs.errors import (
    CorruptImageError,
    SourceNotFoundError,
    TooManyPixelsError,
    UnsupportedFormatError,
)
from imagejobs.spec.formats import INPUTS, SNIFF_BYTES, page_ranges, sniff

if TYPE_CHECKING:
    from PIL import Image

DEFAULT_SVG_DPI = 72  # an SVG's own size
SHRINKS = (8, 4, 2)  # what libjpeg's scaled decoding offers (and what WebP's is asked for), largest first
_SHRINK_OPTIONS = {"jpegload_buffer": "shrink", "webpload_buffer": "scale"}
_TURNED = range(5, 9)  # the EXIF orientations that swap width and height

type Size = tuple[int, int]


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

    def upright_size(self, index: int) -> Size:
        """`size` once the EXIF orientation is applied (decoding turns the pixels upright)."""
        return self.size(index)

    def load_shrunk(self, index: int, at_least: Size) -> pyvips.Image | None:
        """Page `index` decoded smaller, still at least `at_least` (upright) each side; None if it cannot be."""
        return None


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
        header = self._header(index)
        return header.width, header.height

    def upright_size(self, index: int) -> Size:
        width, height = self.size(index)
        return (height, width) if self._turned(index) else (width, height)

    def load(self, index: int) -> pyvips.Image:
        return self._open(n=-1) if self._animated else self._header(index)

    def load_shrunk(self, index: int, at_least: Size) -> pyvips.Image | None:
        option = _SHRINK_OPTIONS.get(self._loader)
        if option is None or self._animated or index:
            return None
        need_width, need_height = at_least[::-1] if self._turned(index) else at_least  # as stored
        width, height = self.size(index)
        for factor in SHRINKS:
            if -(-width // factor) < need_width or -(-height // factor) < need_height:
                continue
            shrunk = self._open(**{option: factor if option == "shrink" else 1 / factor})
            if shrunk.width >= need_width and shrunk.height >= need_height:  # the decoder's rounding, checked
                return shrunk
        return None

    def _header(self, index: int) -> pyvips.Image:
        return self._first if index == 0 else self._open(page=index)

    def _turned(self, index: int) -> bool:
        header = self._header(index)
        return bool(header.get_typeof("orientation")) and header.get("orientation") in _TURNED


class PillowReader(Reader):
    """bmp and ico (the largest icon), which libvips here cannot read."""

    def __init__(self, fmt: str, data: bytes) -> None:
        from PIL import Image  # noqa: PLC0415 - only BMP and ICO sources pay for Pillow

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
    pillow-heif decodes to 8 bits a channel (`convert_hdr_to_8bit`, its default), interleaved;
    libvips takes that buffer as it is (`new_from_memory`, no copy) and keeps a reference to it.
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
        heif = self._heif
        try:
            bands = _HEIF_BANDS.get(heif.mode)
            if bands is None:  # not a mode pillow-heif gives at 8 bits; Pillow knows them all
                return from_pillow(heif.to_pillow())
            data, stride = heif.data, heif.stride
        except (ValueError, EOFError, SyntaxError, RuntimeError) as error:
            raise CorruptImageError("the heic image data is corrupt or truncated") from error
        width, height = heif.size
        if stride != width * bands:  # rows padded: pillow-heif removes the padding by default, else one copy here
            view = memoryview(data)
            data = b"".join(view[top : top + width * bands] for top in range(0, stride * height, stride))
        image = pyvips.Image.new_from_memory(data, width, height, bands, "uchar")
        image = image.copy(interpretation="srgb")
        if heif.mode == "RGBa":  # premultiplied alpha
            image = image.unpremultiply().cast("uchar")
        if icc := heif.info.get("icc_profile"):
            image.set_type(pyvips.GValue.blob_type, "icc-profile-data", icc)
        return image


_HEIF_BANDS = {"RGB": 3, "RGBA": 4, "RGBa": 4}


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


def decode(header: Header, at_least: Size | None = None) -> list[Page]:
    """Decodes each selected page once: upright, 8-bit sRGB, held in memory for every output to share.

    With `at_least` (an upright width and height) and one still page selected, the page is decoded
    shrunk where its format can, to no less than that (`Page.shrunk`).
    """
    reader, decoded = header.reader, []
    for index in header.pages:
        image = None
        if at_least is not None and len(header.pages) == 1 and reader.frames == 1:
            image = reader.load_shrunk(index, at_least)
        shrunk = image is not None
        image = image if image is not None else reader.load(index)
        try:
            if reader.frames == 1:
                image = image.autorot()  # an animation's frames are stacked: turning the stack would scramble them
            image = _to_srgb(image).copy_memory()
        except pyvips.Error as error:
            raise CorruptImageError(f"the {header.format} image data is corrupt or truncated") from error
        width, height = reader.upright_size(index) if shrunk else (image.width, frame_height(image))
        decoded.append(Page(index + 1, image, width, height))
    return decoded


def upright_size(header: Header) -> Size:
    """The first selected page's width and height once upright, from the header."""
    return header.reader.upright_size(header.pages[0])


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
    from PIL import Image  # noqa: PLC0415 - Pillow is imported only by the formats that need it

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        yield
