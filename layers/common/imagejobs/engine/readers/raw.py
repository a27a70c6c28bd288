"""Camera RAWs (dng, cr2, cr3, nef, arw, …) through LibRaw (rawpy), which only RAW sources load."""

from __future__ import annotations

import io

import pyvips
import rawpy

from imagejobs.engine.exif import tiff_block
from imagejobs.engine.readers.base import Reader, Size
from imagejobs.errors import CorruptImageError, TooManyPixelsError, UnsupportedFormatError

_TURNED = (5, 6)  # LibRaw's flips that swap width and height (90° either way)
_SRGB_GAMMA = (2.4, 12.92)  # the sRGB curve (LibRaw's default is BT.709's)


class RawReader(Reader):
    """Opening parses the RAW's metadata (sizes, orientation, white balance) and no sensor data.

    Decoding demosaics with the camera's white balance into 8-bit sRGB, turned upright by LibRaw
    (so no EXIF reaches libvips to turn it again). At half size, each 2x2 block of the sensor's
    colour filter array becomes one pixel: no demosaicing, a quarter of the work.
    """

    def __init__(self, fmt: str, data: bytes) -> None:
        self._fmt, self._data = fmt, data
        try:
            self._raw = rawpy.imread(io.BytesIO(data))
        except rawpy.LibRawTooBigError as error:
            raise TooManyPixelsError(f"the {fmt} file is too large for LibRaw") from error
        except rawpy.LibRawFileUnsupportedError as error:
            raise UnsupportedFormatError(
                f"LibRaw does not read this {fmt} file (an unknown camera, or not a RAW)"
            ) from error
        except rawpy.LibRawError as error:
            raise CorruptImageError(f"the {fmt} header cannot be read") from error
        sizes = self._raw.sizes
        self._size = (sizes.width, sizes.height)
        self._turned = sizes.flip in _TURNED
        self._square = sizes.pixel_aspect == 1

    def size(self, index: int) -> tuple[int, int]:
        return self._size

    def upright_size(self, index: int) -> Size:
        width, height = self._size
        return (height, width) if self._turned else (width, height)

    def exif(self, index: int) -> bytes | None:
        """The file itself, for the RAWs that are TIFFs (DNG, CR2, NEF, ARW, …): their first IFD is EXIF's."""
        return self._data if tiff_block(self._data[:4]) is not None else None

    def load(self, index: int) -> pyvips.Image:
        return self._develop(half_size=False)

    def load_shrunk(self, index: int, at_least: Size) -> pyvips.Image | None:
        width, height = self.upright_size(index)
        if not self._square or width // 2 < at_least[0] or height // 2 < at_least[1]:
            return None
        return self._develop(half_size=True)

    def _develop(self, *, half_size: bool) -> pyvips.Image:
        try:
            rgb = self._raw.postprocess(
                use_camera_wb=True,
                output_color=rawpy.ColorSpace.sRGB,
                output_bps=8,
                gamma=_SRGB_GAMMA,
                half_size=half_size,
            )
        except rawpy.LibRawTooBigError as error:
            raise TooManyPixelsError(f"the {self._fmt} file is too large for LibRaw") from error
        except (rawpy.LibRawError, MemoryError) as error:
            raise CorruptImageError(f"the {self._fmt} sensor data is corrupt or truncated") from error
        height, width, bands = rgb.shape
        return pyvips.Image.new_from_memory(rgb.data, width, height, bands, "uchar").copy(interpretation="srgb")


def reader(fmt: str, data: bytes, dpi: int | None) -> RawReader:
    return RawReader(fmt, data)
