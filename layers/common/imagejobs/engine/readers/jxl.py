"""JPEG XL through pillow-jxl-plugin (libjxl), which only JXL sources load; libvips here has no JXL."""

from __future__ import annotations

import pyvips
from pillow_jxl import Decoder

from imagejobs.engine.readers.base import Reader
from imagejobs.errors import CorruptImageError, UnsupportedFormatError
from imagejobs.spec.headers import jxl_size

# What the decoder gives, as libvips bands and format; anything else is converted by Pillow
_MODES = {"RGB": (3, "uchar"), "RGBA": (4, "uchar"), "L": (1, "uchar"), "LA": (2, "uchar"), "I;16": (1, "ushort")}


class JxlReader(Reader):
    """The size from the codestream's header (the decoder only gives it with the pixels); the first frame.

    A JXL made by recompressing a JPEG decodes to that JPEG's bytes, which libvips then reads (EXIF
    orientation and ICC profile included); any other decodes to pixels, its ICC profile kept.
    """

    def __init__(self, data: bytes) -> None:
        size = jxl_size(data)
        if size is None:
            raise CorruptImageError("the jxl header cannot be read")
        self._data, self._size = data, size

    def size(self, index: int) -> tuple[int, int]:
        return self._size

    def load(self, index: int) -> pyvips.Image:
        try:
            jpeg, info, pixels, icc, _boxes = Decoder(num_threads=-1)(self._data)
        except (RuntimeError, ValueError) as error:  # the decoder's errors
            raise CorruptImageError("the jxl image data is corrupt or truncated") from error
        if jpeg:
            return pyvips.Image.jpegload_buffer(pixels)
        if info.mode not in _MODES:
            raise UnsupportedFormatError(f"the jxl decodes to pixels of mode {info.mode}, which are not read here")
        bands, band_format = _MODES[info.mode]
        image = pyvips.Image.new_from_memory(pixels, info.width, info.height, bands, band_format)
        image = image.copy(interpretation="srgb" if bands >= 3 else "grey16" if band_format == "ushort" else "b-w")
        if icc:
            image.set_type(pyvips.GValue.blob_type, "icc-profile-data", bytes(icc))
        return image


def reader(fmt: str, data: bytes, dpi: int | None) -> JxlReader:
    return JxlReader(data)
