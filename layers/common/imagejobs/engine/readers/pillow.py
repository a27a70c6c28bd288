"""Sources Pillow reads: bmp and ico, which libvips here cannot read, and the TIFFs libvips refuses."""

from __future__ import annotations

import io

import pyvips

from imagejobs.engine.readers.base import Reader, Size, from_pillow, quiet_bombs
from imagejobs.errors import CorruptImageError, TooManyPixelsError

_TURNED = range(5, 9)  # the EXIF orientations that swap width and height
_ORIENTATION = 0x0112


class PillowReader(Reader):
    """bmp, ico (the largest icon) and tiff (its pages), opened with only the header read.

    A TIFF reaches Pillow when libvips refuses it (CIELAB, some compressions and layouts); its
    orientation tag is applied here, since the pixels reach libvips without it.
    """

    def __init__(self, fmt: str, data: bytes) -> None:
        from PIL import Image  # noqa: PLC0415 - only the sources Pillow reads pay for it

        self._fmt = fmt
        try:
            with quiet_bombs():
                self._picture = Image.open(io.BytesIO(data), formats=[fmt.upper()])
        except Image.DecompressionBombError as error:
            raise TooManyPixelsError(f"the {fmt} header claims too many pixels") from error
        except (OSError, SyntaxError, ValueError) as error:
            raise CorruptImageError(f"the {fmt} header cannot be read") from error
        self.page_count = getattr(self._picture, "n_frames", 1) if fmt == "tiff" else 1

    def size(self, index: int) -> tuple[int, int]:
        self._seek(index)
        return self._picture.size

    def upright_size(self, index: int) -> Size:
        width, height = self.size(index)
        return (height, width) if self._picture.getexif().get(_ORIENTATION) in _TURNED else (width, height)

    def load(self, index: int) -> pyvips.Image:
        from PIL import ImageOps  # noqa: PLC0415 - as above

        self._seek(index)
        try:
            with quiet_bombs():
                self._picture.load()
                turned = self._picture.getexif().get(_ORIENTATION, 1) != 1
                return from_pillow(ImageOps.exif_transpose(self._picture) if turned else self._picture)
        except (OSError, SyntaxError, ValueError) as error:
            raise CorruptImageError(f"the {self._fmt} image data is corrupt or truncated") from error

    def _seek(self, index: int) -> None:
        try:
            self._picture.seek(index)
        except (EOFError, OSError, ValueError) as error:
            raise CorruptImageError(f"page {index + 1} of the {self._fmt} cannot be read") from error


def reader(fmt: str, data: bytes, dpi: int | None) -> PillowReader:
    return PillowReader(fmt, data)
