"""The engine on real pixels: formats in and out, geometry, colour, orientation and limits."""

from __future__ import annotations

import time
from typing import Any

import pytest

from imagejobs import engine
from imagejobs.deadline import Deadline
from imagejobs.engine import Limits, Rendered, SourceInfo
from imagejobs.errors import (
    CorruptImageError,
    DeadlineExceededError,
    TooManyPixelsError,
    UnsupportedFormatError,
)
from imagejobs.spec.outputs import Output
from tests import images
from tests.images import BLACK, BLUE, GREEN, RED, WHITE, near, pixel, size

LIMITS = Limits(max_source_pixels=100_000_000, max_output_dimension=16384)

MAGIC = {"jpeg": b"\xff\xd8\xff", "png": b"\x89PNG\r\n\x1a\n", "webp": b"RIFF"}


def output(fmt: str = "png", *operations: dict[str, Any], name: str = "out", quality: int | None = None) -> Output:
    return Output.model_validate({"name": name, "format": fmt, "quality": quality, "operations": list(operations)})


def resize(**params: Any) -> dict[str, Any]:
    return {"type": "resize", **params}


def render(data: bytes, *outputs: Output, limits: Limits = LIMITS) -> tuple[SourceInfo, list[Rendered]]:
    return engine.render(data, outputs or (output(),), limits, Deadline.unlimited())


def render_one(data: bytes, *operations: dict[str, Any], fmt: str = "png", quality: int | None = None) -> Rendered:
    return render(data, output(fmt, *operations, quality=quality))[1][0]


# ---- sources ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "fmt"),
    [
        (lambda: images.jpeg(30, 20), "jpeg"),
        (lambda: images.png(30, 20), "png"),
        (lambda: images.solid(30, 20, fmt="WEBP"), "webp"),
        (lambda: images.solid(30, 20, fmt="GIF"), "gif"),
        (lambda: images.solid(30, 20, fmt="TIFF"), "tiff"),
        (lambda: images.solid(30, 20, fmt="AVIF"), "avif"),
        (lambda: images.heic(30, 20), "heic"),
    ],
)
def test_every_input_format_decodes_to_its_size_and_colour(make: Any, fmt: str) -> None:
    source, [result] = render(make())

    assert source == SourceInfo(format=fmt, width=30, height=20)
    assert (result.width, result.height) == size(result.data) == (30, 20)
    assert near(pixel(result.data, 15, 10), RED)


def test_the_format_comes_from_the_bytes_not_the_file_name() -> None:
    # GIVEN a PNG that a client uploaded as "photo.jpg": the engine only ever sees the bytes
    source, _ = render(images.png(8, 8))

    assert source.format == "png"


@pytest.mark.parametrize("data", [b"hello, this is text\n", b"\x00" * 100])
def test_bytes_of_no_supported_format_are_unsupported(data: bytes) -> None:
    with pytest.raises(UnsupportedFormatError):
        render(data)


def test_zero_bytes_are_a_corrupt_image() -> None:
    with pytest.raises(CorruptImageError, match="empty"):
        render(b"")


@pytest.mark.parametrize(
    "data",
    [
        images.jpeg(64, 64)[:-200],
        images.jpeg(64, 64)[:40],
        images.png(64, 64)[:60],
        images.heic(64, 64)[:-200],
        b"\x89PNG\r\n\x1a\n" + b"garbage" * 20,
    ],
    ids=["jpeg-truncated", "jpeg-header-only", "png-truncated", "heic-truncated", "png-garbage"],
)
def test_truncated_or_corrupt_data_is_a_corrupt_image_with_a_short_public_message(data: bytes) -> None:
    with pytest.raises(CorruptImageError) as failure:
        render(data)

    assert "Vips" not in failure.value.message and "\n" not in failure.value.message


def test_source_pixels_are_refused_from_the_header_before_any_decoding() -> None:
    # GIVEN a PNG header that claims 100000x100000 pixels (30 GB decoded) and holds almost no data
    bomb = images.png_claiming(100_000, 100_000)

    # WHEN it is rendered
    started = time.monotonic()
    with pytest.raises(TooManyPixelsError, match="100000x100000"):
        render(bomb)

    # THEN it fails at once, without trying to allocate the pixels
    assert time.monotonic() - started < 0.5


def test_the_pixel_limit_is_checked_before_decoding_not_after() -> None:
    # GIVEN a header claiming 3000x3000 pixels with no image data behind it
    claim = images.png_claiming(3000, 3000)

    # THEN under a 1 MP limit the header alone refuses it; under a larger limit decoding finds it corrupt
    with pytest.raises(TooManyPixelsError):
        render(claim, limits=Limits(max_source_pixels=1_000_000, max_output_dimension=16384))
    with pytest.raises(CorruptImageError):
        render(claim)


def test_a_source_exactly_at_the_pixel_limit_is_accepted() -> None:
    source, _ = render(images.png(100, 50), limits=Limits(max_source_pixels=5000, max_output_dimension=100))

    assert (source.width, source.height) == (100, 50)


# ---- orientation and colour ---------------------------------------------------------------------


def test_exif_orientation_is_applied_so_width_and_height_swap() -> None:
    # GIVEN quadrants stored 40x20 (red top-left, blue bottom-left) tagged "turn 90° clockwise"
    data = images.exif_rotated_jpeg(40, 20, orientation=6)

    # WHEN rendered with no operations
    source, [result] = render(data)

    # THEN the image is upright: 20x40, the old bottom-left (blue) now top-left, red top-right
    assert (source.width, source.height) == (20, 40)
    assert size(result.data) == (20, 40)
    assert near(pixel(result.data, 2, 2), BLUE)
    assert near(pixel(result.data, 17, 2), RED)


def test_heic_exif_orientation_is_not_applied_on_top_of_the_container_transforms() -> None:
    # GIVEN a HEIC with EXIF orientation 6 but no irot box (HEIF readers follow irot/imir only)
    source, [result] = render(images.exif_tagged_heic(40, 20, orientation=6))

    # THEN it is shown as stored, not turned
    assert (source.width, source.height) == (40, 20)
    assert near(pixel(result.data, 2, 2), RED)


def test_an_embedded_icc_profile_is_honoured_when_converting_to_srgb() -> None:
    # GIVEN sRGB red stored as Display P3 values (about 234, 51, 35) with the P3 profile embedded
    result = render_one(images.display_p3_png(8, 8, RED))

    assert near(pixel(result.data, 4, 4), RED, tolerance=3)


def test_an_icc_profile_in_a_heic_is_honoured() -> None:
    result = render_one(images.display_p3_heic(16, 16, RED))

    assert near(pixel(result.data, 8, 8), RED, tolerance=12)


def test_a_cmyk_jpeg_comes_out_as_srgb() -> None:
    result = render_one(images.cmyk_jpeg(8, 8, RED), fmt="jpeg")

    assert near(pixel(result.data, 4, 4), RED, tolerance=40)


def test_metadata_is_stripped_from_outputs() -> None:
    exif_jpeg = render_one(images.exif_rotated_jpeg(16, 8), fmt="jpeg")
    p3_png = render_one(images.display_p3_png(8, 8))

    assert b"Exif" not in exif_jpeg.data
    assert b"iCCP" not in p3_png.data


# ---- resize -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"width": 50, "height": 50, "fit": "cover"}, (50, 50)),
        ({"width": 50, "height": 50, "fit": "contain"}, (50, 50)),
        ({"width": 50, "height": 50, "fit": "inside"}, (50, 25)),
        ({"width": 50, "height": 50, "fit": "fill"}, (50, 50)),
        ({"width": 50}, (50, 25)),
        ({"height": 50}, (100, 50)),
        ({"width": 400, "height": 400, "fit": "inside"}, (400, 200)),
    ],
)
def test_resize_gives_the_size_of_each_fit_mode(params: dict[str, Any], expected: tuple[int, int]) -> None:
    result = render_one(images.png(200, 100), resize(**params))

    assert (result.width, result.height) == size(result.data) == expected


@pytest.mark.parametrize(
    ("position", "left", "right"),
    [("west", RED, RED), ("east", BLUE, BLUE), ("centre", RED, BLUE), ("northwest", RED, RED)],
)
def test_cover_crops_at_the_position(position: str, left: tuple[int, int, int], right: tuple[int, int, int]) -> None:
    # GIVEN a 200x100 image, red left half, blue right half
    # WHEN it is covered into 50x50 (scaled to 100x50, then 50 px of width cropped)
    result = render_one(images.halves(200, 100), resize(width=50, height=50, fit="cover", position=position))

    # THEN the kept part is the one at `position`
    assert near(pixel(result.data, 2, 25), left)
    assert near(pixel(result.data, 47, 25), right)


def test_contain_pads_with_the_background_to_exactly_the_target() -> None:
    result = render_one(images.png(200, 100), resize(width=100, height=100, fit="contain", background="#00ff00"))

    assert size(result.data) == (100, 100)
    assert near(pixel(result.data, 50, 5), GREEN)
    assert near(pixel(result.data, 50, 50), RED)
    assert near(pixel(result.data, 50, 95), GREEN)


def test_contain_with_a_transparent_background_pads_with_transparency() -> None:
    result = render_one(images.png(200, 100), resize(width=100, height=100, fit="contain", background="#00000000"))

    assert pixel(result.data, 50, 5)[3] == 0
    assert pixel(result.data, 50, 50) == (*RED, 255)


def test_fill_stretches_without_keeping_the_aspect_ratio() -> None:
    result = render_one(images.halves(200, 100), resize(width=20, height=80, fit="fill"))

    assert size(result.data) == (20, 80)
    assert near(pixel(result.data, 2, 40), RED)
    assert near(pixel(result.data, 17, 40), BLUE)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"width": 400, "height": 400, "fit": "inside"}, (100, 50)),
        ({"width": 400}, (100, 50)),
        ({"width": 400, "height": 400, "fit": "fill"}, (100, 50)),
        ({"width": 400, "height": 40, "fit": "cover"}, (100, 40)),
        ({"width": 400, "height": 400, "fit": "contain"}, (400, 400)),
        ({"width": 50}, (50, 25)),
    ],
)
def test_without_enlargement_never_scales_up(params: dict[str, Any], expected: tuple[int, int]) -> None:
    result = render_one(images.png(100, 50), resize(without_enlargement=True, **params))

    assert (result.width, result.height) == expected


def test_resize_of_an_image_with_alpha_keeps_its_alpha() -> None:
    result = render_one(images.png_rgba(40, 40, RED, alpha=128), resize(width=10))

    assert near(pixel(result.data, 5, 5), (*RED, 128), tolerance=2)


# ---- rotate and flip ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("angle", "top_left", "top_right"), [(90, BLUE, RED), (-90, GREEN, WHITE), (270, GREEN, WHITE), (180, WHITE, BLUE)]
)
def test_rotate_by_right_angles_moves_the_corners_clockwise(
    angle: float, top_left: tuple[int, int, int], top_right: tuple[int, int, int]
) -> None:
    # GIVEN 40x20 quadrants: red top-left, green top-right, blue bottom-left, white bottom-right
    result = render_one(images.quadrants(40, 20), {"type": "rotate", "angle": angle})

    width, height = (40, 20) if angle == 180 else (20, 40)
    assert size(result.data) == (width, height)
    assert pixel(result.data, 1, 1) == top_left
    assert pixel(result.data, width - 2, 1) == top_right


def test_rotate_by_any_angle_grows_the_canvas_and_fills_the_corners_with_the_background() -> None:
    result = render_one(images.png(100, 100, WHITE), {"type": "rotate", "angle": 45, "background": "#0000ff"})

    assert result.width == result.height and 140 <= result.width <= 143
    assert near(pixel(result.data, 1, 1), BLUE)
    assert near(pixel(result.data, result.width // 2, result.height // 2), WHITE)


@pytest.mark.parametrize(("direction", "top_left"), [("horizontal", GREEN), ("vertical", BLUE), ("both", WHITE)])
def test_flip_mirrors_the_image(direction: str, top_left: tuple[int, int, int]) -> None:
    result = render_one(images.quadrants(40, 20), {"type": "flip", "direction": direction})

    assert pixel(result.data, 1, 1) == top_left


def test_operations_run_in_order() -> None:
    # rotate then resize to a width gives a different shape than resize then rotate
    data = images.png(200, 100)
    rotate_first = render_one(data, {"type": "rotate", "angle": 90}, resize(width=50))
    resize_first = render_one(data, resize(width=50), {"type": "rotate", "angle": 90})

    assert (rotate_first.width, rotate_first.height) == (50, 100)
    assert (resize_first.width, resize_first.height) == (25, 50)


# ---- encoding -----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp"])
def test_each_output_format_has_its_magic_bytes_and_content_type(fmt: str) -> None:
    result = render_one(images.png(20, 10), fmt=fmt)

    assert result.data.startswith(MAGIC[fmt])
    assert result.content_type == f"image/{fmt}"
    assert result.extension == {"jpeg": "jpg"}.get(fmt, fmt)
    assert result.format == fmt
    assert near(pixel(result.data, 10, 5), RED)


def test_jpeg_of_a_transparent_png_is_white_where_it_was_transparent() -> None:
    result = render_one(images.png_rgba(20, 20, BLACK, alpha=0), fmt="jpeg")

    assert near(pixel(result.data, 10, 10), WHITE, tolerance=2)


@pytest.mark.parametrize("fmt", ["png", "webp"])
def test_png_and_webp_keep_transparency(fmt: str) -> None:
    result = render_one(images.png_rgba(20, 20, RED, alpha=0), fmt=fmt)

    assert pixel(result.data, 10, 10)[3] == 0


@pytest.mark.parametrize("fmt", ["jpeg", "webp"])
def test_quality_changes_the_bytes_and_defaults_to_80(fmt: str) -> None:
    data = images.quadrants(200, 200, fmt="PNG")

    low, high, default, eighty = (render_one(data, fmt=fmt, quality=q).data for q in (10, 95, None, 80))

    assert len(low) < len(high)
    assert default == eighty


# ---- outputs and limits -------------------------------------------------------------------------


def test_every_output_is_rendered_from_the_one_decoded_source(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a count of decodes
    decodes = []
    decode = engine.source.decode
    monkeypatch.setattr(engine.source, "decode", lambda *args: decodes.append(1) or decode(*args))

    # WHEN three outputs are rendered
    _, results = render(
        images.png(200, 100),
        output("png", resize(width=20), name="small"),
        output("jpeg", name="copy"),
        output("webp", {"type": "flip"}, resize(height=10), name="tiny"),
    )

    # THEN the source was decoded once and each output has its own name, format and size
    assert len(decodes) == 1
    assert [(r.name, r.format, r.width, r.height) for r in results] == [
        ("small", "png", 20, 10),
        ("copy", "jpeg", 200, 100),
        ("tiny", "webp", 20, 10),
    ]


def test_an_output_above_the_dimension_limit_is_refused_naming_it() -> None:
    limits = Limits(max_source_pixels=100_000_000, max_output_dimension=100)

    with pytest.raises(TooManyPixelsError, match=r"'big'.*200x100"):
        render(images.png(20, 10), output("png", resize(width=200), name="big"), limits=limits)


def test_a_source_above_the_dimension_limit_needs_a_resize() -> None:
    limits = Limits(max_source_pixels=100_000_000, max_output_dimension=100)

    with pytest.raises(TooManyPixelsError, match="'as-is'"):
        render(images.png(200, 10), output("png", name="as-is"), limits=limits)
    _, [result] = render(images.png(200, 10), output("png", resize(width=100)), limits=limits)
    assert result.width == 100


def test_a_resize_beyond_what_libvips_can_address_is_refused_not_crashed() -> None:
    with pytest.raises(TooManyPixelsError):
        render(images.png(10, 10), output("png", resize(width=100_000_000, height=1, fit="fill")))


def test_webp_larger_than_its_format_allows_is_refused() -> None:
    limits = Limits(max_source_pixels=100_000_000, max_output_dimension=20000)

    with pytest.raises(TooManyPixelsError, match="WebP"):
        render(images.png(1, 1), output("webp", resize(width=16384, height=1, fit="fill")), limits=limits)


def test_a_spent_time_budget_stops_the_job_before_decoding() -> None:
    with pytest.raises(DeadlineExceededError, match="decode"):
        engine.render(images.png(10, 10), [output()], LIMITS, Deadline(lambda: 0))
