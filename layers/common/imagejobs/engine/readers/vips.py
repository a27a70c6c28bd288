"""Formats libvips reads itself: jpeg, png, webp, avif, tiff, gif (and svg, once sanitised)."""

from __future__ import annotations

import pyvips

from imagejobs.engine.readers.base import Reader, Size
from imagejobs.errors import CorruptImageError

SHRINKS = (8, 4, 2)  # what libjpeg's scaled decoding offers (and what WebP's is asked for), largest first
_SHRINK_OPTIONS = {"jpegload_buffer": "shrink", "webpload_buffer": "scale"}
_TURNED = range(5, 9)  # the EXIF orientations that swap width and height


class VipsReader(Reader):
    """jpeg, png, webp, avif, tiff, gif, svg: libvips reads the header, then decodes on demand."""

    def __init__(self, loader: str, data: bytes, **options: object) -> None:
        self._loader, self._data, self._options = loader, data, options
        self._first = self._open()
        pages = self._first.get("n-pages") if self._first.get_typeof("n-pages") else 1
        self._animated = loader in ("gifload_buffer", "webpload_buffer") and pages > 1
        self.frames = pages if self._animated else 1
        self.bands = 4 if self._first.hasalpha() else 3
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
        if self._animated:
            return self._open(n=-1)
        return self._open(**self._streamed(index), **({"page": index} if index else {}))

    def load_shrunk(self, index: int, at_least: Size) -> pyvips.Image | None:
        option = _SHRINK_OPTIONS.get(self._loader)
        if option is None or self._animated or index:
            return None
        need_width, need_height = at_least[::-1] if self._turned(index) else at_least  # as stored
        width, height = self.size(index)
        for factor in SHRINKS:
            if -(-width // factor) < need_width or -(-height // factor) < need_height:
                continue
            shrunk = self._open(**{option: factor if option == "shrink" else 1 / factor}, **self._streamed(index))
            if shrunk.width >= need_width and shrunk.height >= need_height:  # the decoder's rounding, checked
                return shrunk
        return None

    def exif(self, index: int) -> bytes | None:
        header = self._header(index)
        return bytes(header.get("exif-data")) if header.get_typeof("exif-data") else None

    def _header(self, index: int) -> pyvips.Image:
        return self._first if index == 0 else self._open(page=index)

    def _streamed(self, index: int) -> dict[str, str]:
        """Sequential access, when the page is stored upright: its rows are then read once, in order, straight
        into whatever reads them (libvips otherwise decodes the whole page into a buffer of its own first, and
        the decode's `copy_memory` copied that: 18 MB more, for a 6 MP photo). Turning reads out of order."""
        header = self._header(index)
        upright = not header.get_typeof("orientation") or header.get("orientation") == 1
        return {"access": "sequential"} if upright else {}

    def _turned(self, index: int) -> bool:
        header = self._header(index)
        return bool(header.get_typeof("orientation")) and header.get("orientation") in _TURNED


def reader(fmt: str, data: bytes, dpi: int | None) -> Reader:
    """libvips' reader; a TIFF that libvips refuses (CIELAB, some compressions) goes to Pillow, with the same limits."""
    try:
        return VipsReader("heifload_buffer" if fmt == "avif" else f"{fmt}load_buffer", data)
    except CorruptImageError:
        if fmt != "tiff":
            raise
    from imagejobs.engine.readers import pillow  # noqa: PLC0415 - only such TIFFs pay for Pillow

    return pillow.reader(fmt, data, dpi)
