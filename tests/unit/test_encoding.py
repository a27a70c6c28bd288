"""Every output format and encoding option on real pixels, and the validation of their combinations."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pillow_heif
import pytest
from PIL import Image, ImageChops, ImageCms
from pydantic import ValidationError

from imagejobs import engine
from imagejobs.deadline import Deadline
from imagejobs.engine import Limits, Rendered, codecs
from imagejobs.errors import DeadlineExceededError, TargetSizeUnreachableError
from imagejobs.spec.outputs import DEFAULT_MIN_SSIM, Output
from tests import images
from tests.images import BLUE, RED, WHITE, applied, near, size

LIMITS = Limits(max_source_pixels=100_000_000, max_output_dimension=16384)

MAGIC = {
    "jpeg": (0, b"\xff\xd8\xff"),
    "png": (0, b"\x89PNG\r\n\x1a\n"),
    "webp": (8, b"WEBP"),
    "avif": (4, b"ftypavif"),
    "heic": (4, b"ftypheic"),
    "jxl": (0, b"\xff\x0a"),
    "tiff": (0, b"II*\x00"),
    "gif": (0, b"GIF89a"),
    "bmp": (0, b"BM"),
    "ico": (0, b"\x00\x00\x01\x00"),
    "pdf": (0, b"%PDF-"),
}
CONTENT_TYPES = {"pdf": "application/pdf", "ico": "image/x-icon"}
EXTENSIONS = {"jpeg": "jpg"}
KEEPS_ALPHA = {"png", "webp", "avif", "heic", "jxl", "tiff", "gif", "ico"}


def output(fmt: str, *operations: dict[str, Any], **options: Any) -> Output:
    return Output.model_validate({"name": "out", "format": fmt, "operations": list(operations), **options})


def render_one(data: bytes, fmt: str, *operations: dict[str, Any], **options: Any) -> Rendered:
    _, [result] = engine.render(data, [output(fmt, *operations, **options)], LIMITS, Deadline.unlimited())
    return result


def has_magic(data: bytes, fmt: str) -> bool:
    offset, magic = MAGIC[fmt]
    return data[offset : offset + len(magic)] == magic


def decoded(data: bytes) -> Image.Image:
    """Any output as a Pillow RGB(A) image: PDFs by pymupdf at one pixel per point, HEIC by pillow-heif."""
    if data.startswith(b"%PDF-"):
        import pymupdf  # noqa: PLC0415 - only PDF outputs need it

        pixmap = pymupdf.open(stream=data, filetype="pdf").load_page(0).get_pixmap(alpha=False)
        return Image.frombytes("RGB", (pixmap.width, pixmap.height), pixmap.samples)
    pillow_heif.register_heif_opener()
    import pillow_jxl  # noqa: F401, PLC0415 - registers Pillow's JXL plugin (libjxl, not the engine's reader)

    with Image.open(io.BytesIO(data)) as opened:
        return opened.convert("RGBA" if "A" in opened.getbands() or "transparency" in opened.info else "RGB")


# ---- every output format ----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", list(MAGIC))
def test_every_output_format_has_its_magic_bytes_size_colour_and_content_type(fmt: str) -> None:
    result = render_one(images.quadrants(40, 20), fmt, {"type": "resize", "width": 32, "height": 32, "fit": "fill"})

    picture = decoded(result.data)
    assert has_magic(result.data, fmt)
    assert (result.format, result.content_type) == (fmt, CONTENT_TYPES.get(fmt, f"image/{fmt}"))
    assert result.extension == EXTENSIONS.get(fmt, fmt)
    assert (result.width, result.height) == picture.size == (32, 32) or fmt == "ico"
    assert near(picture.getpixel((4, 4))[:3], RED, tolerance=40)
    assert near(picture.getpixel((28, 28))[:3], WHITE, tolerance=40)


@pytest.mark.parametrize("fmt", list(MAGIC))
def test_transparency_is_kept_where_the_format_holds_it_and_flattened_onto_white_elsewhere(fmt: str) -> None:
    result = render_one(images.png_rgba(32, 32, BLUE, alpha=0), fmt)

    colour = decoded(result.data).getpixel((16, 16))
    if fmt in KEEPS_ALPHA:
        assert colour[3] == 0
    else:
        assert near(colour[:3], WHITE, tolerance=4)


def test_auto_picks_the_smallest_of_avif_webp_and_jpeg_and_says_which() -> None:
    photo = images.photo(200, 150)
    sizes = {fmt: len(render_one(photo, fmt, quality=60).data) for fmt in ("avif", "webp", "jpeg")}

    result = render_one(photo, "auto", quality=60)

    assert result.format == min(sizes, key=lambda fmt: sizes[fmt])
    assert len(result.data) == min(sizes.values())


def test_auto_keeps_transparency_with_avif_or_webp() -> None:
    result = render_one(images.png_rgba(32, 32, RED, alpha=0), "auto", quality=90)

    assert result.format in ("avif", "webp")
    assert decoded(result.data).getpixel((16, 16))[3] == 0


def test_a_spent_time_budget_stops_an_encoding_search(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a time budget that runs out with the first encode of a quality search
    encodes: list[int] = []
    encode = codecs.encode
    monkeypatch.setattr(codecs, "encode", lambda *args: encodes.append(args[3]) or encode(*args))
    deadline = Deadline(lambda: 0 if encodes else 10_000)
    job = output("jpeg", quality="auto", name="thumb")

    # THEN the search stops there
    with pytest.raises(DeadlineExceededError, match="thumb"):
        engine.render(images.photo(64, 48), [job], LIMITS, deadline)
    assert encodes == [50]


# ---- quality ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["jpeg", "webp", "avif"])
def test_auto_quality_keeps_the_similarity_with_fewer_bytes_than_quality_95(fmt: str) -> None:
    # GIVEN a photograph-like image
    photo = images.photo(320, 240)

    # WHEN encoded at quality auto, and at 95
    auto = render_one(photo, fmt, quality="auto")
    high = render_one(photo, fmt, quality=95)

    # THEN the result is as similar as promised (measured independently) and smaller
    assert images.ssim(photo, _as_png(auto.data)) >= DEFAULT_MIN_SSIM - 0.005
    assert len(auto.data) < len(high.data)


def test_a_lower_min_ssim_gives_fewer_bytes() -> None:
    photo = images.photo(320, 240)

    strict = render_one(photo, "webp", quality="auto", min_ssim=0.99)
    loose = render_one(photo, "webp", quality="auto", min_ssim=0.9)

    assert len(loose.data) < len(strict.data)
    assert images.ssim(photo, _as_png(loose.data)) >= 0.895


@pytest.mark.parametrize("fmt", ["jpeg", "webp", "avif", "heic"])
def test_max_bytes_is_respected(fmt: str) -> None:
    photo = images.photo(320, 240)
    unconstrained = render_one(photo, fmt, quality=90)

    result = render_one(photo, fmt, quality=90, max_bytes=len(unconstrained.data) // 2)

    assert len(result.data) <= len(unconstrained.data) // 2
    assert size(result.data) == (320, 240)


def test_max_bytes_that_no_quality_reaches_fails_with_its_code() -> None:
    with pytest.raises(TargetSizeUnreachableError) as failure:
        render_one(images.photo(320, 240), "jpeg", max_bytes=200)

    assert failure.value.code == "target_size_unreachable"
    assert "max_bytes 200" in failure.value.message


def test_lossless_webp_is_pixel_exact() -> None:
    photo = images.photo(64, 48)

    result = render_one(photo, "webp", lossless=True)

    assert images.picture(result.data).tobytes() == images.picture(photo).tobytes()


@pytest.mark.parametrize("fmt", ["avif", "heic"])
def test_lossless_avif_and_heic_are_near_exact(fmt: str) -> None:
    photo = images.photo(64, 48)

    result = render_one(photo, fmt, lossless=True)

    assert images.ssim(photo, _as_png(result.data)) > 0.995


def test_progressive_jpeg_has_a_progressive_frame_header() -> None:
    baseline = render_one(images.photo(64, 48), "jpeg")
    progressive = render_one(images.photo(64, 48), "jpeg", progressive=True)

    assert b"\xff\xc2" in progressive.data and b"\xff\xc2" not in baseline.data


def test_progressive_png_is_interlaced() -> None:
    result = render_one(images.photo(64, 48), "png", progressive=True)

    assert result.data[28] == 1  # IHDR's interlace method: Adam7


def test_effort_trades_bytes_for_time() -> None:
    photo = images.photo(200, 150)

    fast = render_one(photo, "webp", effort="speed", quality=80)
    small = render_one(photo, "webp", effort="quality", quality=80)

    assert len(small.data) < len(fast.data)


def test_jpeg_trellis_quantisation_is_for_effort_quality_only() -> None:
    # mozjpeg's trellis: about 13 % fewer bytes for about 4.5 times the encode time (bench/README.md);
    # `balanced`, the default, encodes as sharp's default does (optimised Huffman tables only)
    photo = images.photo(200, 150)

    speed, balanced, default, best = (
        render_one(photo, "jpeg", quality=85, **effort).data
        for effort in ({"effort": "speed"}, {"effort": "balanced"}, {}, {"effort": "quality"})
    )

    assert balanced == speed == default
    assert len(best) < len(balanced)


# ---- metadata ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp", "avif", "heic", "tiff"])
def test_metadata_is_stripped_by_default(fmt: str) -> None:
    result = render_one(images.exif_rotated_jpeg(32, 16), fmt)

    assert b"Exif" not in result.data and b"ICC_PROFILE" not in result.data


@pytest.mark.parametrize("fmt", ["jpeg", "webp", "heic"])
def test_keep_metadata_keeps_exif_and_tags_srgb(fmt: str) -> None:
    # GIVEN a JPEG turned by its EXIF orientation, with a camera model in its EXIF
    exif = Image.Exif()
    exif[0x0110] = "ImageJobs Camera"
    exif[0x0112] = 6
    data = images.encoded(images.quadrants_picture(32, 16), "JPEG", exif=exif)

    result = render_one(data, fmt, keep_metadata=True)

    picture = decoded(result.data)
    kept = Image.Exif()
    kept.load(_info(result.data, "exif"))
    assert kept.get(0x0110) == "ImageJobs Camera"
    assert kept.get(0x0112, 1) == 1  # the pixels are upright now
    assert picture.size == (16, 32)
    profile = ImageCms.ImageCmsProfile(io.BytesIO(_info(result.data, "icc_profile")))
    assert "sRGB" in ImageCms.getProfileDescription(profile)


def _info(data: bytes, key: str) -> bytes:
    pillow_heif.register_heif_opener()
    import pillow_jxl  # noqa: F401, PLC0415 - registers Pillow's JXL plugin (libjxl, not the engine's reader)

    with Image.open(io.BytesIO(data)) as opened:
        return opened.info[key]  # type: ignore[no-any-return]


# ---- format-specific options ---------------------------------------------------------------------------


@pytest.mark.parametrize("colors", [2, 16, 100])
def test_gif_colors_bounds_the_palette(colors: int) -> None:
    result = render_one(images.photo(64, 48), "gif", colors=colors)

    assert 2 <= images.colour_count(result.data) <= colors


def test_gif_dither_zero_gives_flat_areas() -> None:
    gradient = images.photo(64, 48)

    dithered = render_one(gradient, "gif", colors=4, dither=1)
    flat = render_one(gradient, "gif", colors=4, dither=0)

    assert images.detail(_as_png(flat.data)) < images.detail(_as_png(dithered.data))


def test_ico_holds_every_size_asked_for() -> None:
    result = render_one(images.quadrants(100, 50), "ico", sizes=[16, 48, 32])

    with Image.open(io.BytesIO(result.data)) as icon:
        assert sorted(icon.info["sizes"]) == [(16, 16), (32, 32), (48, 48)]
    assert (result.width, result.height) == (48, 48)


@pytest.mark.parametrize(("compression", "code"), [("none", 1), ("lzw", 5), ("deflate", 8), ("jpeg", 7)])
def test_tiff_compression(compression: str, code: int) -> None:
    result = render_one(images.photo(64, 48), "tiff", compression=compression)

    with Image.open(io.BytesIO(result.data)) as tiff:
        assert tiff.tag_v2[259] == code


def test_pdf_output_is_one_page_of_the_image_size() -> None:
    result = render_one(images.quadrants(40, 20), "pdf", lossless=True)

    picture = decoded(result.data)
    assert picture.size == (40, 20)
    assert picture.getpixel((2, 2)) == RED


# ---- validation ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"format": "jpeg", "colors": 16}, "`colors` is not an option of jpeg"),
        ({"format": "png", "sizes": [16]}, "`sizes` is not an option of png"),
        ({"format": "jpeg", "lossless": True}, "`lossless` is not an option of jpeg"),
        ({"format": "gif", "compression": "lzw"}, "`compression` is not an option of gif"),
        ({"format": "png", "quality": 80}, "`quality` is not an option of png"),
        ({"format": "bmp", "keep_metadata": True}, "`keep_metadata` is not an option of bmp"),
        ({"format": "pdf", "quality": "auto"}, "`quality` auto is not available for pdf"),
        ({"format": "webp", "min_ssim": 0.9}, "`min_ssim` goes with"),
        ({"format": "webp", "lossless": True, "quality": 80}, "`lossless` excludes"),
        ({"format": "tiff", "quality": 80}, "`quality` applies to tiff with `compression` jpeg or webp"),
        ({"format": "ico", "sizes": [512]}, "1 to 256"),
        ({"format": "gif", "colors": 300}, "colors"),
        ({"format": "webp", "quality": 0}, "1 to 100"),
    ],
)
def test_options_that_do_not_fit_the_format_are_refused_naming_the_option(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        Output.model_validate({"name": "out", **options})


def _as_png(data: bytes) -> bytes:
    buffer = io.BytesIO()
    decoded(data).save(buffer, format="PNG")
    return buffer.getvalue()


# ---- JPEG XL ----------------------------------------------------------------------------------------

PHOTO_JPEG = Path(__file__).resolve().parents[2] / "samples" / "photo.jpg"


def jxl_decode(data: bytes) -> tuple[bool, bytes]:
    """(whether the JXL holds a recompressed JPEG, the JPEG's bytes or the pixels), by libjxl itself."""
    from pillow_jxl import Decoder  # noqa: PLC0415

    jpeg, _, content, _, _ = Decoder()(data)
    return jpeg, content


def test_a_jxl_output_decodes_back_to_its_dimensions_and_picture() -> None:
    photo = images.photo(300, 200)

    result = render_one(photo, "jxl", {"type": "resize", "width": 150})

    assert result.data[:2] == b"\xff\x0a" and (result.width, result.height) == (150, 100)
    assert decoded(result.data).size == (150, 100)
    assert (
        images.ssim(images.encoded(decoded(result.data), "PNG"), applied(photo, {"type": "resize", "width": 150}))
        > 0.95
    )


def test_lossless_jxl_is_pixel_exact() -> None:
    photo = images.photo(64, 48)

    result = render_one(photo, "jxl", lossless=True)

    assert ImageChops.difference(decoded(result.data), images.picture(photo)).getbbox() is None


def test_lossless_jxl_of_an_unchanged_jpeg_keeping_its_metadata_is_the_jpeg_recompressed_byte_exact() -> None:
    jpeg = PHOTO_JPEG.read_bytes()

    result = render_one(jpeg, "jxl", lossless=True, keep_metadata=True)

    assert jxl_decode(result.data) == (True, jpeg)  # djxl rebuilds the very file
    assert len(result.data) < len(jpeg) * 0.9
    assert (result.width, result.height) == (1600, 1067)
    assert images.ssim(render_one(result.data, "png").data, jpeg) > 0.999  # and reads back as a source


@pytest.mark.parametrize(
    "options",
    [{"lossless": True}, {"lossless": True, "keep_metadata": True, "operations": [{"type": "flip"}]}],
    ids=["metadata-stripped", "with-an-operation"],
)
def test_lossless_jxl_otherwise_stores_the_pixels(options: dict[str, Any]) -> None:
    jpeg = images.jpeg(40, 30, BLUE)
    operations = options.pop("operations", [])

    result = render_one(jpeg, "jxl", *operations, **options)

    holds_jpeg, _ = jxl_decode(result.data)
    assert not holds_jpeg
    assert (
        ImageChops.difference(
            decoded(result.data), images.picture(jpeg).transpose(0) if operations else images.picture(jpeg)
        ).getbbox()
        is None
    )


def test_a_jpeg_libjxl_cannot_recompress_is_stored_as_lossless_pixels() -> None:
    result = render_one(images.cmyk_jpeg(32, 32, RED), "jxl", lossless=True, keep_metadata=True)

    assert jxl_decode(result.data)[0] is False
    assert near(decoded(result.data).getpixel((16, 16))[:3], RED, tolerance=40)


def test_auto_tries_jxl_only_when_the_output_accepts_it() -> None:
    photo = images.photo(200, 150)
    sizes = {fmt: len(render_one(photo, fmt, quality=60).data) for fmt in ("webp", "jxl")}

    plain = render_one(photo, "auto", quality=60)
    accepting = render_one(photo, "auto", quality=60, accept=["jxl", "webp"])
    only_jxl = render_one(photo, "auto", quality=60, accept=["jxl"])

    assert plain.format in ("avif", "webp", "jpeg")
    assert accepting.format == min(sizes, key=lambda fmt: sizes[fmt]) and len(accepting.data) == min(sizes.values())
    assert only_jxl.format == "jxl" and decoded(only_jxl.data).size == (200, 150)


def test_auto_accepting_only_jpeg_flattens_transparency() -> None:
    result = render_one(images.png_rgba(32, 32, BLUE, alpha=0), "auto", accept=["jpeg"])

    assert result.format == "jpeg" and near(decoded(result.data).getpixel((16, 16)), WHITE, tolerance=4)


def test_jxl_auto_quality_keeps_the_similarity() -> None:
    photo = images.photo(160, 120)

    result = render_one(photo, "jxl", quality="auto")

    assert images.ssim(images.encoded(decoded(result.data), "PNG"), photo) >= DEFAULT_MIN_SSIM - 0.01
    assert len(result.data) < len(render_one(photo, "jxl", quality=95).data)
