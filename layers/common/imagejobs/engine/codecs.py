"""One encoder per output format: bytes from an image, an output's options and a resolved quality.

Metadata is stripped unless the output says `keep_metadata`, which keeps EXIF, XMP and IPTC and
tags the (sRGB) pixels with an sRGB profile. Formats without alpha get the image flattened onto
white. libvips writes what it can; Pillow writes BMP and ICO, pillow-heif HEIC (libvips here
has no HEVC encoder), pillow-jxl-plugin JXL (nor a JPEG XL one), pymupdf PDF; each is imported
only when an output needs it.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pyvips

from imagejobs.engine.frames import frame_height
from imagejobs.errors import TooManyPixelsError
from imagejobs.spec.outputs import Output

if TYPE_CHECKING:
    from PIL import Image

type Encoder = Callable[[pyvips.Image, Output, int], bytes]

ICO_SIZES = (16, 32, 48)
TIFF_COMPRESSION = "lzw"
_WEBP_MAX_SIDE = 16383  # the WebP format's own limit
_WHITE = [255, 255, 255]
_EXIF_ORIENTATION = 0x0112

# Effort per encoder. AVIF: effort 4 (sharp's default) takes over ten times effort 1 for a few % fewer bytes
# (bench/README.md: 1.3 % more than sharp's at a fifth of its time). JPEG: mozjpeg's
# trellis quantisation takes about 4.5 times as long to encode for some 13 % fewer bytes, so only `quality`
# has it (sharp's default leaves it off too); every effort optimises the Huffman tables.
_JPEG_TRELLIS = {"speed": False, "balanced": False, "quality": True}
_PNG_LEVEL = {"speed": 2, "balanced": 6, "quality": 9}
_WEBP_EFFORT = {"speed": 1, "balanced": 4, "quality": 6}
_AVIF_EFFORT = {"speed": 0, "balanced": 1, "quality": 4}
_HEIC_PRESET = {"speed": "ultrafast", "balanced": "superfast", "quality": "medium"}  # x265 presets
_GIF_EFFORT = {"speed": 1, "balanced": 7, "quality": 10}
# libjxl's effort (1-9; its own default 7): on a 1.7 MP photograph 3 takes 0.1 s, 5 0.25 s, 7 1.1 s for
# about 15 % fewer bytes than 5 at the same SSIM.
_JXL_EFFORT = {"speed": 3, "balanced": 5, "quality": 7}
_JXL_MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}

_ENCODERS: dict[str, Encoder] = {}

# What the encoders other than libvips raise on an image they cannot write (too large for the format,
# out of what they can allocate): Pillow OSError and ValueError, pillow-heif RuntimeError (x265's) and
# ValueError, pymupdf RuntimeError.
ERRORS: tuple[type[Exception], ...] = (OSError, ValueError, RuntimeError)


def encode(fmt: str, image: pyvips.Image, output: Output, quality: int) -> bytes:
    return _ENCODERS[fmt](image, output, quality)


def _encoder(fmt: str) -> Callable[[Encoder], Encoder]:
    def register(encoder: Encoder) -> Encoder:
        _ENCODERS[fmt] = encoder
        return encoder

    return register


def _metadata(output: Output) -> dict[str, Any]:
    return {"keep": "exif,xmp,iptc", "profile": "srgb"} if output.keep_metadata else {"keep": "none"}


def _opaque(image: pyvips.Image) -> pyvips.Image:
    return image.flatten(background=_WHITE) if image.hasalpha() else image


@_encoder("jpeg")
def _jpeg(image: pyvips.Image, output: Output, quality: int) -> bytes:
    trellis = _JPEG_TRELLIS[output.effort]  # mozjpeg's: fewer bytes for the same quality
    return _opaque(image).jpegsave_buffer(
        Q=quality,
        interlace=output.progressive,
        optimize_coding=True,
        trellis_quant=trellis,
        overshoot_deringing=trellis,
        **_metadata(output),
    )


@_encoder("png")
def _png(image: pyvips.Image, output: Output, _: int) -> bytes:
    return image.pngsave_buffer(
        compression=_PNG_LEVEL[output.effort], interlace=output.progressive, **_metadata(output)
    )


@_encoder("webp")
def _webp(image: pyvips.Image, output: Output, quality: int) -> bytes:
    if max(image.width, frame_height(image)) > _WEBP_MAX_SIDE:
        raise TooManyPixelsError(
            f"output '{output.name}': WebP holds at most {_WEBP_MAX_SIDE} pixels per side, "
            f"not {image.width}x{frame_height(image)}"
        )
    return image.webpsave_buffer(
        Q=quality, lossless=output.lossless, effort=_WEBP_EFFORT[output.effort], **_metadata(output)
    )


@_encoder("avif")
def _avif(image: pyvips.Image, output: Output, quality: int) -> bytes:
    return image.heifsave_buffer(
        compression="av1",
        Q=quality,
        lossless=output.lossless,
        effort=_AVIF_EFFORT[output.effort],
        bitdepth=8,
        **_metadata(output),
    )


@_encoder("heic")
def _heic(image: pyvips.Image, output: Output, quality: int) -> bytes:
    import pillow_heif  # noqa: PLC0415 - only HEIC outputs pay for it

    heif = pillow_heif.from_pillow(_pillow(image))
    extra: dict[str, Any] = {}
    if output.keep_metadata:
        extra = {"exif": _upright_exif(image), "xmp": _blob(image, "xmp-data"), "icc_profile": _srgb_profile()}
    buffer = io.BytesIO()
    heif.save(
        buffer,
        quality=-1 if output.lossless else quality,  # pillow-heif's lossless
        chroma=444 if output.lossless else 420,
        enc_params={"preset": _HEIC_PRESET[output.effort]},
        **extra,
    )
    return buffer.getvalue()


@_encoder("jxl")
def _jxl(image: pyvips.Image, output: Output, quality: int) -> bytes:
    from pillow_jxl import Encoder  # noqa: PLC0415 - only JXL outputs pay for it

    metadata: dict[str, Any] = {}
    if output.keep_metadata:  # libjxl assumes sRGB pixels when given no profile: they are
        metadata = {"exif": _upright_exif(image), "xmp": _blob(image, "xmp-data")}
    encoder = Encoder(  # type: ignore[call-arg]  # pillow-jxl-plugin's stub predates mode and effort
        mode=_JXL_MODES[image.bands],
        lossless=output.lossless,
        quality=100 if output.lossless else quality,
        effort=_JXL_EFFORT[output.effort],
    )
    return bytes(encoder(bytes(image.write_to_memory()), image.width, image.height, jpeg_encode=False, **metadata))


def jxl_from_jpeg(jpeg: bytes) -> bytes | None:
    """A JPEG recompressed losslessly as JPEG XL, from which the JPEG can be rebuilt byte for byte.

    None for the JPEGs libjxl cannot recompress (CMYK, arithmetic coding, …).
    """
    from pillow_jxl import Encoder  # noqa: PLC0415 - only JXL outputs pay for it

    try:
        encoder = Encoder(mode="RGB", lossless=True, effort=_JXL_EFFORT["quality"])  # type: ignore[call-arg]  # as above
        return bytes(encoder(jpeg, 0, 0, jpeg_encode=True))
    except (RuntimeError, ValueError):  # the encoder's refusals
        return None


@_encoder("tiff")
def _tiff(image: pyvips.Image, output: Output, quality: int) -> bytes:
    compression = output.compression or TIFF_COMPRESSION
    predictor = "horizontal" if compression in ("lzw", "deflate") else "none"
    return image.tiffsave_buffer(compression=compression, Q=quality, predictor=predictor, **_metadata(output))


@_encoder("gif")
def _gif(image: pyvips.Image, output: Output, _: int) -> bytes:
    return image.gifsave_buffer(
        bitdepth=int(math.log2(output.colors or 256)),  # at most `colors`: the quantiser counts in bits
        dither=1.0 if output.dither is None else output.dither,
        effort=_GIF_EFFORT[output.effort],
        interlace=output.progressive,
        keep="none",
    )


@_encoder("bmp")
def _bmp(image: pyvips.Image, _: Output, __: int) -> bytes:
    buffer = io.BytesIO()
    _pillow(_opaque(image)).save(buffer, format="BMP")
    return buffer.getvalue()


@_encoder("ico")
def _ico(image: pyvips.Image, output: Output, _: int) -> bytes:
    """One square icon per size: the image fitted in, centred on transparency."""
    sides = output.sizes or ICO_SIZES
    if not image.hasalpha():
        image = image.addalpha()
    icons = [_pillow(image.thumbnail_image(side, height=side).gravity("centre", side, side)) for side in sides]
    buffer = io.BytesIO()
    icons[-1].save(buffer, format="ICO", sizes=[icon.size for icon in icons], append_images=icons[:-1])
    return buffer.getvalue()


@_encoder("pdf")
def _pdf(image: pyvips.Image, output: Output, quality: int) -> bytes:
    from imagejobs.engine.pdf import write_pdf  # noqa: PLC0415 - only PDF outputs load pymupdf

    image = _opaque(image)
    picture = image.pngsave_buffer(keep="none") if output.lossless else image.jpegsave_buffer(Q=quality, keep="none")
    return write_pdf(picture, image.width, image.height)


def _pillow(image: pyvips.Image) -> Image.Image:
    from PIL import Image  # noqa: PLC0415 - Pillow is imported only by the encoders that need it

    mode = {1: "L", 3: "RGB", 4: "RGBA"}[image.bands]
    return Image.frombytes(mode, (image.width, image.height), image.write_to_memory())


def _blob(image: pyvips.Image, field: str) -> bytes | None:
    return image.get(field) if image.get_typeof(field) else None


def _upright_exif(image: pyvips.Image) -> bytes | None:
    """The EXIF with orientation 1 (libvips updates it itself when it saves; pillow-heif would turn the image)."""
    if not (blob := _blob(image, "exif-data")):
        return None
    from PIL import Image  # noqa: PLC0415 - only HEIC outputs that keep metadata need it

    exif = Image.Exif()
    exif.load(blob)
    exif[_EXIF_ORIENTATION] = 1
    return exif.tobytes()


def _srgb_profile() -> bytes:
    from PIL import ImageCms  # noqa: PLC0415 - only HEIC outputs that keep metadata need it

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
