"""bmp and ico, which libvips here cannot read: Pillow decodes them."""

from __future__ import annotations

import io

import pyvips

from imagejobs.engine.readers.base import Reader, from_pillow, quiet_bombs
from imagejobs.errors import CorruptImageError, TooManyPixelsError


class PillowReader(Reader):
    """bmp and ico (the largest icon), which libvips here cannot read."""

    def __init__(self, fmt: str, data: bytes) -> None:
        from PIL import Image  # noqa: PLC0415 - only BMP and ICO sources pay for Pillow

        self._fmt = fmt
        try:
            with quiet_bombs():
                self._picture = Image.open(io.BytesIO(data), formats=[fmt.upper()])
        except Image.DecompressionBombError as error:
            raise TooManyPixelsError(f"the {fmt} header claims too many pixels") from error
        except (OSError, SyntaxError, ValueError) as error:
            raise CorruptImageError(f"the {fmt} header cannot be read") from error

    def size(self, index: int) -> tuple[int, int]:
        return self._picture.size

    def load(self, index: int) -> pyvips.Image:
        try:
            with quiet_bombs():
                self._picture.load()
        except (OSError, SyntaxError, ValueError) as error:
            raise CorruptImageError(f"the {self._fmt} image data is corrupt or truncated") from error
        return from_pillow(self._picture)


def reader(fmt: str, data: bytes, dpi: int | None) -> PillowReader:
    return PillowReader(fmt, data)
