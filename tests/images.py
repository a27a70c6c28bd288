"""Real images made in memory, for everyone's tests. Every maker returns the encoded bytes.

Colours are (r, g, b) tuples. `pixel` reads a pixel back from encoded bytes with Pillow, so
tests check the engine's output with a decoder other than the one the engine uses.
"""

from __future__ import annotations

import io
import struct
import zlib

import pillow_heif
import pyvips
from PIL import Image

type RGB = tuple[int, int, int]

RED: RGB = (255, 0, 0)
GREEN: RGB = (0, 255, 0)
BLUE: RGB = (0, 0, 255)
WHITE: RGB = (255, 255, 255)
BLACK: RGB = (0, 0, 0)

_EXIF_ORIENTATION = 0x0112


def encoded(picture: Image.Image, fmt: str, **params: object) -> bytes:
    """A Pillow image saved as `fmt` (a Pillow format name: JPEG, PNG, WEBP, GIF, TIFF, AVIF, HEIF)."""
    if fmt == "HEIF":
        pillow_heif.register_heif_opener()
    buffer = io.BytesIO()
    picture.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def solid(width: int, height: int, color: RGB = RED, fmt: str = "PNG") -> bytes:
    return encoded(Image.new("RGB", (width, height), color), fmt)


def jpeg(width: int, height: int, color: RGB = RED, quality: int = 95) -> bytes:
    return encoded(Image.new("RGB", (width, height), color), "JPEG", quality=quality)


def png(width: int, height: int, color: RGB = RED) -> bytes:
    return solid(width, height, color, "PNG")


def png_rgba(width: int, height: int, color: RGB = RED, alpha: int = 0) -> bytes:
    return encoded(Image.new("RGBA", (width, height), (*color, alpha)), "PNG")


def heic(width: int, height: int, color: RGB = RED) -> bytes:
    return encoded(Image.new("RGB", (width, height), color), "HEIF", quality=95)


def halves(width: int, height: int, left: RGB = RED, right: RGB = BLUE, fmt: str = "PNG") -> bytes:
    """The left half one colour, the right half another: shows which part a crop kept."""
    picture = Image.new("RGB", (width, height), right)
    picture.paste(left, (0, 0, width // 2, height))
    return encoded(picture, fmt)


def quadrants_picture(
    width: int, height: int, corners: tuple[RGB, RGB, RGB, RGB] = (RED, GREEN, BLUE, WHITE)
) -> Image.Image:
    """Four coloured quarters: top-left, top-right, bottom-left, bottom-right."""
    picture = Image.new("RGB", (width, height))
    half_w, half_h = width // 2, height // 2
    boxes = (
        (0, 0, half_w, half_h),
        (half_w, 0, width, half_h),
        (0, half_h, half_w, height),
        (half_w, half_h, width, height),
    )
    for color, box in zip(corners, boxes, strict=True):
        picture.paste(color, box)
    return picture


def quadrants(width: int, height: int, fmt: str = "PNG") -> bytes:
    """Red top-left, green top-right, blue bottom-left, white bottom-right: shows rotations and flips."""
    return encoded(quadrants_picture(width, height), fmt)


def exif_rotated_jpeg(width: int, height: int, orientation: int = 6) -> bytes:
    """`quadrants` stored widthxheight, tagged with an EXIF orientation (6: show turned 90° clockwise)."""
    exif = Image.Exif()
    exif[_EXIF_ORIENTATION] = orientation
    return encoded(quadrants_picture(width, height), "JPEG", quality=95, exif=exif)


def exif_tagged_heic(width: int, height: int, orientation: int = 6) -> bytes:
    """`quadrants` in a HEIC whose EXIF says `orientation` but which has no irot/imir box.

    In HEIF the container's irot/imir transforms rule and EXIF orientation is informative only
    (pillow-heif's encoder writes the EXIF but no irot here), so a reader must not rotate it.
    """
    exif = Image.Exif()
    exif[_EXIF_ORIENTATION] = orientation
    return encoded(quadrants_picture(width, height), "HEIF", quality=95, exif=exif)


def display_p3_png(width: int, height: int, color: RGB = RED) -> bytes:
    """An sRGB colour stored as Display P3 values with the P3 profile embedded.

    A decoder that honours the profile shows `color`; one that ignores it shows duller values.
    """
    srgb = pyvips.Image.black(width, height).new_from_image(list(color)).cast("uchar").copy(interpretation="srgb")
    return srgb.icc_transform("p3", input_profile="srgb").pngsave_buffer()


def display_p3_heic(width: int, height: int, color: RGB = RED) -> bytes:
    """As `display_p3_png`, in a HEIC (pillow-heif keeps the ICC profile)."""
    with Image.open(io.BytesIO(display_p3_png(width, height, color))) as picture:
        return encoded(picture, "HEIF", quality=100, icc_profile=picture.info["icc_profile"])


def cmyk_jpeg(width: int, height: int, color: RGB = RED) -> bytes:
    """An sRGB colour stored as CMYK with libvips' CMYK profile embedded."""
    srgb = pyvips.Image.black(width, height).new_from_image(list(color)).cast("uchar").copy(interpretation="srgb")
    return srgb.icc_transform("cmyk", input_profile="srgb").jpegsave_buffer(Q=95)


def png_claiming(width: int, height: int) -> bytes:
    """A well-formed PNG whose header announces widthxheight but which holds almost no pixel data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00")) + chunk(b"IEND", b"")


def pixel(data: bytes, x: int, y: int) -> tuple[int, ...]:
    """The pixel at (x, y) of an encoded image, decoded by Pillow (RGB, or RGBA if it has alpha)."""
    with Image.open(io.BytesIO(data)) as picture:
        return tuple(picture.convert("RGBA" if "A" in picture.getbands() else "RGB").getpixel((x, y)))


def size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as picture:
        return picture.size


def near(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 12) -> bool:
    """Colours equal within a tolerance per channel (lossy codecs move values a little)."""
    return len(actual) == len(expected) and all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))
