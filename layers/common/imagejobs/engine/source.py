"""Reading a source: its real format, its header against the pixel limit, then one decode."""

from __future__ import annotations

import pyvips

from imagejobs.errors import CorruptImageError, TooManyPixelsError, UnsupportedFormatError
from imagejobs.formats import INPUTS, sniff

_SNIFF_BYTES = 64


def read_header(data: bytes, max_pixels: int) -> tuple[str, pyvips.Image]:
    """The format the bytes really are, and the image with only its header read.

    Zero bytes are a `corrupt_image` (there is nothing to identify); bytes of no known image
    format are `unsupported_format`. Only the first page or frame is ever decoded, so the pixel
    limit counts that one.
    """
    if not data:
        raise CorruptImageError("the source is empty")
    fmt = sniff(data[:_SNIFF_BYTES])
    if fmt is None:
        raise UnsupportedFormatError(f"the source is not an image in a supported format ({', '.join(INPUTS)})")
    try:
        header = pyvips.Image.new_from_buffer(data, "", fail_on="error")
    except pyvips.Error as error:
        raise CorruptImageError(f"the {fmt} header cannot be read") from error
    if header.width * header.height > max_pixels:
        raise TooManyPixelsError(
            f"the source is {header.width}x{header.height} pixels, above the limit of {max_pixels} pixels"
        )
    return fmt, header


def decode(fmt: str, header: pyvips.Image, data: bytes) -> pyvips.Image:
    """Decodes once: upright, in sRGB, held in memory for every output to share."""
    image = _load_heic(data) if fmt == "heic" else header
    try:
        return _to_srgb(image.autorot()).copy_memory()
    except pyvips.Error as error:
        raise CorruptImageError(f"the {fmt} image data is corrupt or truncated") from error


def _to_srgb(image: pyvips.Image) -> pyvips.Image:
    # An unusable embedded profile is ignored by libvips, which then assumes sRGB.
    if image.get_typeof("icc-profile-data"):
        image = image.icc_transform("srgb", embedded=True, intent="perceptual")
    return image.colourspace("srgb")


def _load_heic(data: bytes) -> pyvips.Image:
    """libvips here decodes AVIF but not HEVC: pillow-heif decodes HEIC, imported only when one arrives.

    libheif applies the container's irot/imir transforms and pillow-heif resets the EXIF
    orientation to 1; no EXIF reaches libvips, so `autorot` cannot rotate a second time.
    """
    import pillow_heif  # noqa: PLC0415 - only HEIC sources pay for it

    try:
        picture = pillow_heif.open_heif(data).to_pillow()
    except (ValueError, EOFError, SyntaxError, RuntimeError) as error:
        raise CorruptImageError("the heic image data is corrupt or truncated") from error
    if picture.mode not in ("RGB", "RGBA"):
        picture = picture.convert("RGBA" if picture.has_transparency_data else "RGB")
    image = pyvips.Image.new_from_memory(
        picture.tobytes(), picture.width, picture.height, len(picture.mode), "uchar"
    ).copy(interpretation="srgb")
    if icc := picture.info.get("icc_profile"):
        image.set_type(pyvips.GValue.blob_type, "icc-profile-data", icc)
    return image
