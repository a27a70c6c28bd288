"""Real images made in memory, for everyone's tests. Every maker returns the encoded bytes.

Colours are (r, g, b) tuples. `pixel` reads a pixel back from encoded bytes with Pillow, so
tests check the engine's output with a decoder other than the one the engine uses.
"""

from __future__ import annotations

import base64
import io
import random
import struct
import zlib
from collections.abc import Mapping
from pathlib import Path

import pillow_heif
import pyvips
from PIL import Image, ImageChops
from pydantic import TypeAdapter

from imagejobs.deadline import Deadline
from imagejobs.engine import operations as engine_operations
from imagejobs.errors import SourceNotFoundError
from imagejobs.spec.operations import Operation

type RGB = tuple[int, int, int]

RED: RGB = (255, 0, 0)
GREEN: RGB = (0, 255, 0)
BLUE: RGB = (0, 0, 255)
WHITE: RGB = (255, 255, 255)
BLACK: RGB = (0, 0, 0)

_EXIF_ORIENTATION = 0x0112


def encoded(picture: Image.Image, fmt: str, **params: object) -> bytes:
    """A Pillow image saved as `fmt` (a Pillow format name: JPEG, PNG, WEBP, GIF, TIFF, AVIF, HEIF, JXL)."""
    if fmt == "HEIF":
        pillow_heif.register_heif_opener()
    if fmt == "JXL":
        import pillow_jxl  # noqa: F401, PLC0415 - registers Pillow's JXL plugin
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


def mean_colour(data: bytes) -> RGB:
    """The average (r, g, b) of an encoded image."""
    image = pyvips.Image.new_from_buffer(data, "")
    red, green, blue = (round(image.extract_band(band).avg()) for band in range(3))
    return red, green, blue


def size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as picture:
        return picture.size


def near(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 12) -> bool:
    """Colours equal within a tolerance per channel (lossy codecs move values a little)."""
    return len(actual) == len(expected) and all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


# ---- for the operations' tests ------------------------------------------------------------------


def bordered(width: int, height: int, border: int, inner: RGB = RED, outer: RGB = WHITE) -> bytes:
    """An `inner` rectangle inside a flat `outer` border `border` pixels wide: what trim removes."""
    picture = Image.new("RGB", (width, height), outer)
    picture.paste(inner, (border, border, width - border, height - border))
    return encoded(picture, "PNG")


def checkerboard(width: int, height: int, cell: int = 4) -> bytes:
    """Black and white squares `cell` pixels wide: all edges, for blur and sharpen."""
    picture = Image.new("L", (width, height))
    picture.putdata([255 * ((x // cell + y // cell) % 2) for y in range(height) for x in range(width)])
    return encoded(picture.convert("RGB"), "PNG")


def photo_picture(width: int, height: int) -> Image.Image:
    """Something like a photograph: smooth areas, edges and fine detail in every channel."""
    detail = Image.effect_mandelbrot((width, height), (-2.0, -1.25, 0.75, 1.25), 60)
    ramp = Image.linear_gradient("L")
    down, across = ramp.resize((width, height)), ramp.transpose(Image.Transpose.ROTATE_90).resize((width, height))
    return Image.merge("RGB", (ImageChops.add(detail, across, scale=2), down, across))


def photo(width: int, height: int) -> bytes:
    return encoded(photo_picture(width, height), "PNG")


def picture(data: bytes) -> Image.Image:
    """Encoded bytes as a Pillow image, loaded (RGB, or RGBA if it has alpha)."""
    with Image.open(io.BytesIO(data)) as opened:
        return opened.convert("RGBA" if "A" in opened.getbands() else "RGB")


def changed_box(data: bytes, background: RGB, tolerance: int = 24) -> tuple[int, int, int, int] | None:
    """The (left, top, right, bottom) box of the pixels further than `tolerance` from `background`."""
    colours = picture(data).convert("RGB")
    difference = ImageChops.difference(colours, Image.new("RGB", colours.size, background)).convert("L")
    return difference.point(lambda value: 255 if value > tolerance else 0).getbbox()


def _grey(data: bytes) -> pyvips.Image:
    return pyvips.Image.new_from_buffer(data, "").colourspace("b-w")[0].cast("float")


def detail(data: bytes) -> float:
    """How much fine detail there is: the standard deviation of grey levels from their 3x3 local mean."""
    grey = _grey(data)
    return (grey - grey.conv(pyvips.Image.new_from_array([[1] * 3] * 3, scale=9))).deviate()


def ssim(first: bytes, second: bytes) -> float:
    """Mean structural similarity of two images' grey levels (Wang et al. 2004, Gaussian window, sigma 1.5).

    1 is equal; 0.9 looks alike; below 0.5 differs plainly.
    """
    a, b = _grey(first), _grey(second)
    assert (a.width, a.height) == (b.width, b.height), "SSIM compares images of one size"
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_a, mu_b = a.gaussblur(1.5), b.gaussblur(1.5)
    var_a, var_b = (a * a).gaussblur(1.5) - mu_a * mu_a, (b * b).gaussblur(1.5) - mu_b * mu_b
    covariance = (a * b).gaussblur(1.5) - mu_a * mu_b
    similarity = ((mu_a * mu_b * 2 + c1) * (covariance * 2 + c2)) / (
        (mu_a * mu_a + mu_b * mu_b + c1) * (var_a + var_b + c2)
    )
    return similarity.avg()


def gradient(width: int, height: int, low: int = 0, high: int = 255) -> bytes:
    """Grey levels rising from `low` at the left to `high` at the right."""
    ramp = [low + (high - low) * x // max(1, width - 1) for x in range(width)]
    picture = Image.new("L", (width, height))
    picture.putdata(ramp * height)
    return encoded(picture.convert("RGB"), "PNG")


def lightness(data: bytes) -> float:
    """The mean grey level, 0-255."""
    return _grey(data).avg()


_OPERATION: TypeAdapter[Operation] = TypeAdapter(Operation)


def applied(data: bytes, *operations: dict[str, object], uploads: Mapping[str, bytes] | None = None) -> bytes:
    """Operations (as a client writes them) run by the engine's steps on the image, as PNG bytes.

    `uploads` are the tenant's other uploads by id, for watermarks; any other id is not found.
    """

    def load_upload(upload_id: str) -> bytes:
        if uploads is None or upload_id not in uploads:
            raise SourceNotFoundError(f"upload {upload_id} does not exist")
        return uploads[upload_id]

    image = pyvips.Image.new_from_buffer(data, "")
    context = engine_operations.Context(
        load_upload=load_upload,
        max_source_pixels=100_000_000,
        max_frames=500,
        max_output_dimension=16384,
        deadline=Deadline.unlimited(),
    )
    for params in operations:
        image = engine_operations.apply(image, _OPERATION.validate_python(params), context)
    return image.pngsave_buffer()


# ---- for the formats' and encodings' tests ------------------------------------------------------


def animated(fmt: str, width: int, height: int, colors: tuple[RGB, ...], durations: tuple[int, ...]) -> bytes:
    """An animation (Pillow format GIF or WEBP), one solid colour per frame, looping forever."""
    frames = [Image.new("RGB", (width, height), color) for color in colors]
    return encoded(frames[0], fmt, save_all=True, append_images=frames[1:], duration=list(durations), loop=0)


def animation_of(data: bytes) -> tuple[int, list[int], int]:
    """(frames, delays in ms, frame height) of an encoded GIF or WebP, read by libvips."""
    image = pyvips.Image.new_from_buffer(data, "", n=-1)
    frames = image.get("n-pages") if image.get_typeof("n-pages") else 1
    delays = list(image.get("delay")) if image.get_typeof("delay") else []
    height = image.get("page-height") if image.get_typeof("page-height") else image.height
    return frames, delays, height


def gif_claiming(width: int, height: int, frames: int = 1) -> bytes:
    """A GIF whose screen says widthxheight, with `frames` 1x1 frames: a decompression bomb's header."""
    screen = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x02\x02\x44\x01\x00"
    return screen + frame * frames + b"\x3b"


def pdf(*pages: tuple[float, float, RGB]) -> bytes:
    """A PDF with one page per (width, height in points, colour), each filled with its colour."""
    import pymupdf  # noqa: PLC0415 - only the PDF tests need it

    document = pymupdf.open()
    for width, height, color in pages:
        page = document.new_page(width=width, height=height)
        page.draw_rect(page.rect, color=None, fill=tuple(c / 255 for c in color))
    return document.tobytes()


def multipage_tiff(*pages: tuple[int, int, RGB]) -> bytes:
    """A TIFF with one page per (width, height, colour)."""
    first, *others = (Image.new("RGB", (width, height), color) for width, height, color in pages)
    return encoded(first, "TIFF", save_all=True, append_images=others)


def svg(body: str, width: int = 40, height: int = 20, prologue: str = "") -> bytes:
    return (
        f'<?xml version="1.0"?>\n{prologue}<svg xmlns="http://www.w3.org/2000/svg" '
        f'xmlns:xlink="http://www.w3.org/1999/xlink" width="{width}" height="{height}">{body}</svg>'
    ).encode()


BILLION_LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE svg [\n<!ENTITY a "lollollollollollollollollollol">\n'
    + b"".join(b'<!ENTITY %c "%s">\n' % (ord("b") + i, b"&%c;" % (ord("a") + i) * 10) for i in range(8))
    + b']>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><text>&i;</text></svg>'
)


def nested_svg(depth: int) -> bytes:
    """A red 10x10 square inside `depth` nested groups."""
    return svg("<g>" * depth + '<rect width="10" height="10" fill="red"/>' + "</g>" * depth, 10, 10)


def use_bomb_svg(levels: int, fan: int = 10) -> bytes:
    """A billion laughs by reference: each level's group `<use>`s the one below `fan` times (fan ** levels squares)."""
    defs = ['<g id="l0"><rect width="1" height="1" fill="red"/></g>']
    for level in range(1, levels + 1):
        uses = "".join(f'<use href="#l{level - 1}" x="{i % 10}"/>' for i in range(fan))
        defs.append(f'<g id="l{level}">{uses}</g>')
    return svg(f'<defs>{"".join(defs)}</defs><use href="#l{levels}"/>', 20, 20)


def crossing_path_svg(segments: int, side: int = 1000, seed: int = 1) -> bytes:
    """One filled path of `segments` random lines across the canvas: librsvg's time grows with their square."""
    points = random.Random(seed)
    lines = " ".join(f"L{points.randint(0, side)} {points.randint(0, side)}" for _ in range(segments))
    return svg(f'<path d="M0 0 {lines}" fill="blue"/>', side, side)


def svg_embedding(raster: bytes, content_type: str = "image/png", width: int = 20, height: int = 20) -> bytes:
    """An SVG showing `raster` (as a data: URI) over the whole of it."""
    uri = f"data:{content_type};base64,{base64.b64encode(raster).decode()}"
    return svg(f'<image href="{uri}" width="{width}" height="{height}"/>', width, height)


def png16(width: int, height: int, color: RGB = RED) -> bytes:
    """A 16-bit RGB PNG of `color`."""
    values = [c * 257 for c in color]
    black = pyvips.Image.black(width, height).cast("ushort")
    return black.new_from_image(values).copy(interpretation="rgb16").pngsave_buffer()


def grey_alpha_png(width: int, height: int, grey: int = 128, alpha: int = 128) -> bytes:
    return encoded(Image.new("LA", (width, height), (grey, alpha)), "PNG")


def palette_png(width: int, height: int, color: RGB = RED) -> bytes:
    return encoded(Image.new("RGB", (width, height), color).convert("P"), "PNG")


def colour_count(data: bytes) -> int:
    """The number of distinct colours of an encoded image's first frame."""
    with Image.open(io.BytesIO(data)) as opened:
        return len(opened.convert("RGBA").getcolors(maxcolors=1 << 24) or [])


# sRGB (D65) to CIE XYZ; its inverse is a DNG's ColorMatrix1 for a "camera" whose sensor sees linear sRGB
_SRGB_TO_XYZ = ((0.4124, 0.3576, 0.1805), (0.2126, 0.7152, 0.0722), (0.0193, 0.1192, 0.9505))
_D65 = 21  # the DNG CalibrationIlluminant of daylight


def dng(picture: Image.Image, *, orientation: int = 1, neutral: RGB = (255, 255, 255)) -> bytes:
    """A real camera DNG of a picture: its linear light mosaiced to an RGGB Bayer pattern, 16 bits a sample.

    The colour matrix says the sensor sees linear sRGB, so a RAW developer gives the picture back.
    `neutral` is the as-shot white (the camera's white balance): the pixels are stored as a camera
    lit by that colour would record them, so developing with the camera's white balance undoes it.
    """
    import numpy as np  # noqa: PLC0415 - only the RAW tests need numpy and pidng
    from pidng.core import RAW2DNG, DNGTags, Tag  # noqa: PLC0415

    rgb = np.asarray(picture.convert("RGB"), dtype=np.float64) / 255
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4) * np.array(neutral) / 255
    height, width = linear.shape[:2]
    mosaic = np.empty((height, width), dtype=np.float64)
    mosaic[0::2, 0::2] = linear[0::2, 0::2, 0]  # R G
    mosaic[0::2, 1::2] = linear[0::2, 1::2, 1]  # G B
    mosaic[1::2, 0::2] = linear[1::2, 0::2, 1]
    mosaic[1::2, 1::2] = linear[1::2, 1::2, 2]
    matrix = np.linalg.inv(np.array(_SRGB_TO_XYZ))
    tags = DNGTags()
    for tag, value in (
        (Tag.ImageWidth, width), (Tag.ImageLength, height), (Tag.TileWidth, width), (Tag.TileLength, height),
        (Tag.Orientation, orientation), (Tag.PhotometricInterpretation, 32803), (Tag.SamplesPerPixel, 1),
        (Tag.BitsPerSample, 16), (Tag.CFARepeatPatternDim, [2, 2]), (Tag.CFAPattern, [0, 1, 1, 2]),
        (Tag.BlackLevel, 0), (Tag.WhiteLevel, 65535), (Tag.CalibrationIlluminant1, _D65),
        (Tag.ColorMatrix1, [[round(v * 10000), 10000] for v in matrix.flatten()]),
        (Tag.AsShotNeutral, [[c, 255] for c in neutral]), (Tag.BaselineExposure, [[0, 1]]),
        (Tag.Make, "imagejobs"), (Tag.Model, "Bayer test camera"), (Tag.UniqueCameraModel, "imagejobs Bayer test"),
    ):  # fmt: skip
        tags.set(tag, value)
    writer = RAW2DNG()
    writer.options(tags, path="", compress=False)
    return bytes(writer.convert(np.round(mosaic * 65535).astype(np.uint16)))


def tiff_with_tags(tags: Mapping[int, int | bytes], prefix: bytes = b"II*\x00") -> bytes:
    """A little-endian TIFF of one directory holding `tags` (SHORT numbers, ASCII text) and no pixels."""
    entries, extra = [], b""
    data_at = 8 + 2 + 12 * len(tags) + 4
    for tag, value in sorted(tags.items()):
        if isinstance(value, bytes):
            text = value + b"\0"
            entries.append(struct.pack("<HHII", tag, 2, len(text), data_at + len(extra)))
            extra += text
        else:
            entries.append(struct.pack("<HHIHH", tag, 3, 1, value, 0))
    return prefix + struct.pack("<I", 8) + struct.pack("<H", len(tags)) + b"".join(entries) + b"\0" * 4 + extra


def rle8_bmp(width: int, height: int, color: RGB = RED) -> bytes:
    """A BMP compressed with RLE8 (a run of one palette colour per row), which libvips cannot read."""
    rows = b"".join(bytes([width, 1, 0, 0]) for _ in range(height)) + b"\x00\x01"  # run, end of line; end
    palette = bytes([0, 0, 0, 0, color[2], color[1], color[0], 0]) + bytes(4 * 254)
    offset = 14 + 40 + len(palette)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 8, 1, len(rows), 2835, 2835, 256, 0)
    return b"BM" + struct.pack("<IHHI", offset + len(rows), 0, 0, offset) + info + palette + rows


def cielab_tiff(width: int, height: int, color: RGB = RED) -> bytes:
    """An sRGB colour stored as CIE L*a*b* in a TIFF, which libvips refuses to read."""
    from PIL import ImageCms  # noqa: PLC0415

    to_lab = ImageCms.buildTransform(ImageCms.createProfile("sRGB"), ImageCms.createProfile("LAB"), "RGB", "LAB")
    return encoded(ImageCms.applyTransform(Image.new("RGB", (width, height), color), to_lab), "TIFF")


def jxl_codestream_claiming(width: int, height: int) -> bytes:
    """A JPEG XL codestream whose SizeHeader says widthxheight (30-bit sides), followed by nothing."""
    bits = [0]  # not small
    for side in (height, None, width):
        if side is None:  # the ratio: 0, the width follows
            bits += [0, 0, 0]
            continue
        bits += [1, 1] + [(side - 1) >> i & 1 for i in range(30)]  # selector 3: 30 bits, minus one
    packed = bytes(sum(bit << i for i, bit in enumerate(bits[k : k + 8])) for k in range(0, len(bits), 8))
    return b"\xff\x0a" + packed + bytes(16)


# ---- a real photograph, and its EXIF ------------------------------------------------------------

SAMPLES = Path(__file__).parent.parent / "samples"
PHOTOGRAPH = Path(__file__).parent / "data" / "grace_hopper.jpg"  # 512x600, no EXIF: see tests/data/README.md


def photograph() -> bytes:
    return PHOTOGRAPH.read_bytes()


def camera_exif(
    make: str = "Canon",
    model: str = "Canon EOS 5D",
    taken: str = "2024:05:01 14:03:22",
    offset: str | None = "+02:00",
    gps: tuple[tuple[float, float, float], str, tuple[float, float, float], str, float] | None = None,
) -> Image.Exif:
    """EXIF as a camera writes it: make and model (IFD0), capture time (Exif IFD), maybe a GPS IFD
    given as (latitude d/m/s, N|S, longitude d/m/s, E|W, altitude in metres)."""
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = make, model
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = taken
    if offset is not None:
        sub[0x9011] = offset
    if gps is not None:
        latitude, north, longitude, east, altitude = gps
        exif.get_ifd(0x8825).update({1: north, 2: latitude, 3: east, 4: longitude, 5: b"\x00", 6: altitude})
    return exif


def with_exif(jpeg: bytes, block: bytes) -> bytes:
    """The JPEG with an APP1 segment of `block` (`Exif\\0\\0` and a TIFF structure) after its SOI:
    the same compressed pixels, not encoded again."""
    assert jpeg[:2] == b"\xff\xd8"
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(block) + 2) + block + jpeg[2:]
