"""HEIC/HEIF through pillow-heif (libvips here has no HEVC decoder)."""

from __future__ import annotations

import pyvips

from imagejobs.engine.readers.base import Reader, from_pillow
from imagejobs.errors import CorruptImageError


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

    def exif(self, index: int) -> bytes | None:
        block = self._heif.info.get("exif")
        return bytes(block) if block else None

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


def reader(fmt: str, data: bytes, dpi: int | None) -> HeifReader:
    return HeifReader(data)
