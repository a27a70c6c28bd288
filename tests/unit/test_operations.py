"""Every operation's step on real pixels: sizes, sampled colours, alpha, and SSIM against references."""

from __future__ import annotations

import io
from typing import Any, get_args

import pytest
import pyvips
from PIL import Image, ImageFilter, ImageOps

from imagejobs.deadline import Deadline
from imagejobs.engine.operations import STEPS, Context, apply
from imagejobs.errors import CorruptImageError, SourceNotFoundError
from imagejobs.spec.operations import FONTS, FilterName, Operation, Watermark
from tests import images
from tests.images import BLACK, BLUE, GREEN, RED, WHITE, applied, changed_box, near, pixel, size

GREY = (128, 128, 128)
MARK_ID = "upl_" + "0" * 22 + "MARK"


def op(kind: str, **params: Any) -> dict[str, Any]:
    return {"type": kind, **params}


def grey_png(width: int, height: int, level: int = 128) -> bytes:
    """A one-band (greyscale) PNG: libvips reads it as one band, not three."""
    return images.encoded(Image.new("L", (width, height), level), "PNG")


def rgba_png(width: int, height: int, box: tuple[int, int, int, int], color: tuple[int, ...] = (*RED, 255)) -> bytes:
    """Transparent, with `box` (left, top, right, bottom) filled with `color`."""
    picture = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    picture.paste(color, box)
    return images.encoded(picture, "PNG")


def busy_right(width: int, height: int) -> bytes:
    """Flat grey but for a checkerboard in the right fifth: what a smart crop keeps."""
    picture = Image.new("RGB", (width, height), GREY)
    cells = images.picture(images.checkerboard(width // 5, height, cell=3))
    picture.paste(cells, (width - width // 5, 0))
    return images.encoded(picture, "PNG")


def test_every_operation_type_has_a_step() -> None:
    assert set(STEPS) == set(get_args(get_args(Operation)[0]))


# ---- resize -------------------------------------------------------------------------------------


def test_outside_covers_the_box_without_cropping() -> None:
    assert size(applied(images.png(200, 100), op("resize", width=50, height=50, fit="outside"))) == (100, 50)


def test_resize_takes_percentages_of_the_image() -> None:
    assert size(applied(images.png(200, 100), op("resize", width="50%"))) == (100, 50)
    assert size(applied(images.png(200, 100), op("resize", width="10%", height="100%", fit="fill"))) == (20, 100)


def test_blur_background_contains_the_image_over_a_blurred_copy_of_itself() -> None:
    # GIVEN red|blue halves, 200x100, fitted into 100x100
    result = applied(images.halves(200, 100), op("resize", width=100, height=100, fit="blur_background"))

    # THEN the image is contained in the middle band, and above and below it lies its own (cover-scaled) copy
    assert size(result) == (100, 100)
    assert near(pixel(result, 5, 50), RED) and near(pixel(result, 94, 50), BLUE)
    assert near(pixel(result, 2, 2), RED, tolerance=40) and near(pixel(result, 97, 97), BLUE, tolerance=40)
    # blurred: the seam between the halves is a gradient in the copy, sharp in the image
    assert not near(pixel(result, 50, 2), RED, tolerance=60) and not near(pixel(result, 50, 2), BLUE, tolerance=60)
    assert near(pixel(result, 48, 50), RED, 2) and near(pixel(result, 52, 50), BLUE, 2)


def test_blur_background_with_one_side_is_a_plain_resize() -> None:
    assert size(applied(images.png(200, 100), op("resize", width=50, fit="blur_background"))) == (50, 25)


@pytest.mark.parametrize("position", ["entropy", "attention"])
def test_smart_cover_keeps_the_interesting_part(position: str) -> None:
    source = busy_right(200, 100)

    smart = applied(source, op("resize", width=50, height=50, fit="cover", position=position))
    centre = applied(source, op("resize", width=50, height=50, fit="cover"))

    assert size(smart) == (50, 50)
    assert images.detail(smart) > 2 * images.detail(centre)


def test_a_smart_position_pads_at_the_centre() -> None:
    result = applied(images.png(200, 100), op("resize", width=100, height=100, fit="contain", position="attention"))

    assert pixel(result, 50, 5) == BLACK and pixel(result, 50, 50) == RED and pixel(result, 50, 95) == BLACK


# ---- crop ---------------------------------------------------------------------------------------


def test_crop_at_x_and_y() -> None:
    result = applied(images.quadrants(40, 20), op("crop", x=20, y=0, width=20, height=10))

    assert size(result) == (20, 10)
    assert pixel(result, 0, 0) == pixel(result, 19, 9) == GREEN


@pytest.mark.parametrize(
    ("gravity", "kept"), [("northwest", RED), ("northeast", GREEN), ("southwest", BLUE), ("southeast", WHITE)]
)
def test_crop_by_gravity_keeps_that_quadrant(gravity: str, kept: tuple[int, int, int]) -> None:
    result = applied(images.quadrants(40, 20), op("crop", width=20, height=10, gravity=gravity))

    assert size(result) == (20, 10)
    assert pixel(result, 0, 0) == pixel(result, 19, 9) == kept


def test_crop_without_position_keeps_the_centre() -> None:
    result = applied(images.quadrants(40, 20), op("crop", width=2, height=2))

    assert [pixel(result, x, y) for y in (0, 1) for x in (0, 1)] == [RED, GREEN, BLUE, WHITE]


def test_crop_takes_percentages_of_width_and_height() -> None:
    result = applied(images.quadrants(40, 20), op("crop", x="50%", y="50%", width="50%", height="50%"))

    assert size(result) == (20, 10)
    assert pixel(result, 10, 5) == WHITE


def test_a_crop_reaching_past_the_image_is_cut_to_it() -> None:
    assert size(applied(images.png(40, 20), op("crop", x=30, y=15, width=20, height=20))) == (10, 5)
    assert size(applied(images.png(40, 20), op("crop", x=100, y=100, width=5, height=5))) == (1, 1)
    assert size(applied(images.png(40, 20), op("crop", width=100, height="200%", gravity="east"))) == (40, 20)


def test_smart_crop_keeps_the_interesting_part() -> None:
    result = applied(busy_right(200, 100), op("crop", width=40, height=100, gravity="entropy"))

    assert size(result) == (40, 100)
    assert images.detail(result) > 20


# ---- pad ----------------------------------------------------------------------------------------


def test_pad_adds_each_side_in_the_background_colour() -> None:
    result = applied(images.png(10, 10), op("pad", top=1, right=2, bottom=3, left=4, background="#00ff00"))

    assert size(result) == (16, 14)
    assert pixel(result, 4, 1) == pixel(result, 13, 10) == RED
    assert pixel(result, 3, 5) == pixel(result, 14, 5) == pixel(result, 8, 0) == pixel(result, 8, 11) == GREEN


def test_pad_percentages_are_of_the_width_for_left_and_right_and_the_height_for_top_and_bottom() -> None:
    result = applied(images.png(100, 20), op("pad", left="10%", right="5%", top="50%"))

    assert size(result) == (115, 30)
    assert pixel(result, 0, 0) == BLACK and pixel(result, 10, 10) == RED


def test_pad_with_a_translucent_colour_adds_alpha() -> None:
    result = applied(images.png(10, 10), op("pad", top=2, background="#0000ff80"))

    assert pixel(result, 5, 0) == (*BLUE, 128)
    assert pixel(result, 5, 5) == (*RED, 255)


def test_pad_of_a_grey_image_in_a_colour_is_in_colour() -> None:
    result = applied(grey_png(10, 10), op("pad", left=2, background="red"))

    assert pixel(result, 0, 5) == RED and pixel(result, 5, 5) == GREY


# ---- trim ---------------------------------------------------------------------------------------


def test_trim_removes_a_flat_border() -> None:
    result = applied(images.bordered(40, 30, border=5), op("trim"))

    assert size(result) == (30, 20)
    assert pixel(result, 0, 0) == pixel(result, 29, 19) == RED


def test_trim_threshold_decides_what_counts_as_border() -> None:
    faint = images.bordered(40, 30, border=5, inner=(240, 240, 240))

    assert size(applied(faint, op("trim", threshold=5))) == (30, 20)
    assert size(applied(faint, op("trim", threshold=30))) == (40, 30)


def test_trim_background_names_the_border_colour() -> None:
    framed = images.bordered(40, 30, border=5)

    assert size(applied(framed, op("trim", background="white"))) == (30, 20)
    assert size(applied(framed, op("trim", background="#0000ff"))) == (40, 30)


def test_trim_of_a_flat_image_keeps_it_whole() -> None:
    assert size(applied(images.png(20, 10), op("trim"))) == (20, 10)


def test_trim_removes_a_transparent_border() -> None:
    result = applied(rgba_png(30, 30, (10, 10, 20, 20)), op("trim"))

    assert size(result) == (10, 10)
    assert pixel(result, 5, 5) == (*RED, 255)


# ---- blur and sharpen ---------------------------------------------------------------------------


def test_blur_lowers_local_variance() -> None:
    board = images.checkerboard(40, 40)

    assert images.detail(applied(board, op("blur", sigma=2))) < images.detail(board) / 4


def test_blur_looks_like_a_reference_gaussian_blur() -> None:
    source = images.photo(160, 120)
    reference = images.encoded(images.photo_picture(160, 120).filter(ImageFilter.GaussianBlur(3)), "PNG")

    assert images.ssim(applied(source, op("blur", sigma=3)), reference) > 0.97


def test_blur_of_transparency_lends_no_colour() -> None:
    # GIVEN opaque white beside transparent black: unpremultiplied, the blur would darken the edge
    result = applied(rgba_png(40, 20, (20, 0, 40, 20), (*WHITE, 255)), op("blur", sigma=2))

    red, green, blue, alpha = pixel(result, 19, 10)
    assert 0 < alpha < 255
    assert min(red, green, blue) >= 250


def test_sharpen_raises_local_variance() -> None:
    soft = applied(images.photo(160, 120), op("blur", sigma=1.5))

    assert images.detail(applied(soft, op("sharpen", sigma=1, amount=4))) > 1.3 * images.detail(soft)


def test_sharpen_of_amount_zero_changes_nothing_visible() -> None:
    source = images.photo(80, 60)

    assert images.ssim(applied(source, op("sharpen", amount=0)), source) > 0.99


def test_sharpen_keeps_alpha() -> None:
    assert pixel(applied(images.png_rgba(20, 20, RED, alpha=128), op("sharpen")), 10, 10)[3] == 128


# ---- adjust -------------------------------------------------------------------------------------


def test_adjust_with_its_defaults_changes_nothing() -> None:
    source = images.photo(40, 30)

    assert images.picture(applied(source, op("adjust"))).tobytes() == images.picture(source).tobytes()


@pytest.mark.parametrize(("brightness", "brighter"), [(1.4, True), (0.6, False)])
def test_brightness_moves_mean_lightness(brightness: float, brighter: bool) -> None:
    source = images.photo(80, 60)

    result = images.lightness(applied(source, op("adjust", brightness=brightness)))

    assert (result > images.lightness(source) + 10) if brighter else (result < images.lightness(source) - 10)


def test_contrast_spreads_or_flattens_values_around_mid_grey() -> None:
    ramp = images.gradient(64, 4, 64, 192)

    assert pixel(applied(ramp, op("adjust", contrast=2)), 0, 0) == BLACK
    assert pixel(applied(ramp, op("adjust", contrast=2)), 63, 0) == WHITE
    assert pixel(applied(ramp, op("adjust", contrast=0)), 0, 0) == GREY


def test_saturation_zero_is_grey_and_above_one_is_more_colourful() -> None:
    muted = (180, 120, 110)

    grey = pixel(applied(images.png(4, 4, muted), op("adjust", saturation=0)), 1, 1)
    vivid = pixel(applied(images.png(4, 4, muted), op("adjust", saturation=2)), 1, 1)

    assert max(grey) - min(grey) <= 2
    assert max(vivid) - min(vivid) > max(muted) - min(muted)


def test_hue_rotates_colours() -> None:
    red, green, blue = pixel(applied(images.png(4, 4, RED), op("adjust", hue=180)), 1, 1)

    assert green > red and blue > red


@pytest.mark.parametrize(("gamma", "level"), [(2, 181), (0.5, 64)])
def test_gamma_bends_mid_tones(gamma: float, level: int) -> None:
    assert pixel(applied(images.png(4, 4, GREY), op("adjust", gamma=gamma)), 1, 1) == (level, level, level)


def test_adjust_keeps_alpha() -> None:
    assert pixel(applied(images.png_rgba(4, 4, RED, alpha=77), op("adjust", brightness=0.5)), 1, 1)[3] == 77


# ---- filter -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", get_args(FilterName))
def test_every_filter_keeps_size_and_alpha(name: str) -> None:
    result = applied(images.png_rgba(30, 20, RED, alpha=100), op("filter", name=name))

    assert size(result) == (30, 20)
    assert pixel(result, 15, 10)[3] == 100


def test_grayscale_makes_red_green_and_blue_equal_and_looks_like_a_reference() -> None:
    source = images.photo(80, 60)

    result = applied(source, op("filter", name="grayscale"))

    assert all(len(set(pixel(result, x, y))) == 1 for x, y in [(0, 0), (40, 30), (79, 59), (10, 50)])
    reference = images.encoded(images.photo_picture(80, 60).convert("L").convert("RGB"), "PNG")
    assert images.ssim(result, reference) > 0.95


def test_sepia_tones_grey_brown_and_looks_like_a_reference() -> None:
    assert near(pixel(applied(images.png(4, 4, GREY), op("filter", name="sepia")), 1, 1), (173, 154, 120), 2)

    source = images.photo_picture(80, 60)
    matrix = (0.393, 0.769, 0.189, 0, 0.349, 0.686, 0.168, 0, 0.272, 0.534, 0.131, 0)
    reference = images.encoded(source.convert("RGB", matrix), "PNG")
    assert images.ssim(applied(images.encoded(source, "PNG"), op("filter", name="sepia")), reference) > 0.98


def test_negate_inverts_colours_not_alpha() -> None:
    assert pixel(applied(images.png_rgba(4, 4, RED, alpha=200), op("filter", name="negate")), 1, 1) == (
        0,
        255,
        255,
        200,
    )
    source = images.photo(40, 30)
    reference = images.encoded(ImageOps.invert(images.photo_picture(40, 30)), "PNG")
    assert images.ssim(applied(source, op("filter", name="negate")), reference) > 0.99


def test_emboss_turns_flat_areas_mid_grey_and_edges_light_or_dark() -> None:
    result = applied(images.halves(40, 20, WHITE, BLACK), op("filter", name="emboss"))

    assert pixel(result, 5, 10) == GREY and pixel(result, 35, 10) == GREY
    assert max(pixel(result, 20, 10)) < 100 or min(pixel(result, 20, 10)) > 156


def test_edge_detect_is_black_on_flat_areas_and_bright_on_edges() -> None:
    result = applied(images.halves(40, 20, WHITE, BLACK), op("filter", name="edge_detect"))

    assert pixel(result, 5, 10) == BLACK and pixel(result, 35, 10) == BLACK
    assert min(pixel(result, 20, 10)) > 100


@pytest.mark.parametrize(
    ("name", "source", "expected"),
    [
        ("posterize", (100, 30, 200), (85, 0, 255)),
        ("solarize", (200, 100, 255), (55, 100, 0)),
        ("black_white", (200, 200, 200), WHITE),
        ("black_white", (60, 60, 60), BLACK),
        ("warm", GREY, (141, 128, 109)),
        ("cool", GREY, (109, 128, 141)),
    ],
)
def test_filter_colours(name: str, source: tuple[int, int, int], expected: tuple[int, int, int]) -> None:
    assert near(pixel(applied(images.png(4, 4, source), op("filter", name=name)), 1, 1), expected, 1)


def test_vintage_fades_white_to_a_warm_cream() -> None:
    red, green, blue = pixel(applied(images.png(4, 4, WHITE), op("filter", name="vintage")), 1, 1)

    assert red >= green > blue and blue < 230


def test_filters_work_on_grey_images() -> None:
    assert near(pixel(applied(grey_png(4, 4), op("filter", name="sepia")), 1, 1), (173, 154, 120), 2)


# ---- tint and auto_enhance ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "color", "expected"),
    [(WHITE, "#ff8000", (255, 128, 0)), (BLACK, "#ff8000", BLACK), (WHITE, "#ff800080", (255, 191, 128))],
)
def test_tint_colours_the_grey_levels(source: tuple[int, int, int], color: str, expected: tuple[int, int, int]) -> None:
    assert near(pixel(applied(images.png(4, 4, source), op("tint", color=color)), 1, 1), expected, 2)


def test_tint_keeps_the_image_structure() -> None:
    source = images.photo(80, 60)

    assert images.ssim(applied(source, op("tint", color="#3366ff")), source) > 0.6


def test_auto_enhance_stretches_levels_to_the_full_range() -> None:
    # GIVEN a dull ramp of grey 100 ... 150
    dull = images.gradient(256, 4, 100, 150)
    result = applied(dull, op("auto_enhance"))

    # THEN it runs from (nearly) black to (nearly) white, like an autocontrast with 1% cut off
    assert max(pixel(result, 0, 0)) < 10 and min(pixel(result, 255, 0)) > 245
    reference = images.encoded(
        ImageOps.autocontrast(images.picture(images.gradient(256, 4, 100, 150)), cutoff=1), "PNG"
    )
    assert images.ssim(result, reference) > 0.9


def test_auto_enhance_leaves_a_flat_image_and_its_hue_alone() -> None:
    assert pixel(applied(images.png(4, 4, GREY), op("auto_enhance")), 1, 1) == GREY


# ---- text ---------------------------------------------------------------------------------------


def texted(width: int = 200, height: int = 100, **params: Any) -> bytes:
    return applied(images.png(width, height, BLACK), op("text", **{"text": "Hello", "size": 20, **params}))


@pytest.mark.parametrize(
    ("gravity", "region"),
    [
        ("northwest", (0, 0, 100, 50)),
        ("north", (50, 0, 150, 50)),
        ("southeast", (100, 50, 200, 100)),
        ("centre", (50, 25, 150, 75)),
        ("west", (0, 25, 100, 75)),
    ],
)
def test_text_is_drawn_at_its_gravity(gravity: str, region: tuple[int, int, int, int]) -> None:
    box = changed_box(texted(gravity=gravity), BLACK)

    assert box is not None
    left, top, right, bottom = box
    assert region[0] <= left and top >= region[1] and right <= region[2] and bottom <= region[3]
    assert right - left > 30 and bottom - top > 8


def test_text_offsets_move_it_inwards_in_pixels_or_percentages() -> None:
    plain = changed_box(texted(gravity="southeast"), BLACK)
    moved = changed_box(texted(gravity="southeast", offset_x="10%", offset_y=7), BLACK)

    assert plain is not None and moved is not None
    assert (plain[2] - moved[2], plain[3] - moved[3]) == (20, 7)


def test_text_colour_and_opacity() -> None:
    # a full block glyph is a solid patch of the text's colour
    solid = texted(text="\u2588\u2588", size=40, color="#ff8000")
    faint = texted(text="\u2588\u2588", size=40, color="#ff8000", opacity=0.5)

    assert near(pixel(solid, 100, 50), (255, 128, 0), 2)
    assert near(pixel(faint, 100, 50), (128, 64, 0), 2)


def text_width(**params: Any) -> int:
    box = changed_box(texted(**params), BLACK)
    assert box is not None, "no text was drawn"
    return box[2] - box[0]


def test_text_is_drawn_as_written_not_as_markup() -> None:
    # "<b>&amp;</b>" as markup would be one bold "&"; as written it is twelve characters
    assert text_width(text="<b>&amp;</b>") > 5 * text_width(text="&")


def test_long_text_wraps_at_the_image_width() -> None:
    box = changed_box(texted(text="a caption long enough to need more than one line", gravity="north"), BLACK)

    assert box is not None and box[2] <= 200 and box[3] > 40


def test_every_bundled_font_draws_with_its_own_shapes() -> None:
    widths = {font: text_width(text="iiiiiiWW", font=font) for font in FONTS}

    assert len(set(widths.values())) == len(FONTS)


def test_text_on_a_transparent_image_keeps_alpha() -> None:
    result = applied(images.png_rgba(200, 100, BLACK, alpha=0), op("text", text="\u2588", size=40))

    assert pixel(result, 0, 0)[3] == 0
    assert pixel(result, 100, 50) == (*WHITE, 255)


# ---- watermark ----------------------------------------------------------------------------------


def watermarked(mark: bytes, source: bytes | None = None, **params: Any) -> bytes:
    return applied(
        source or images.png(100, 100, WHITE), op("watermark", upload_id=MARK_ID, **params), uploads={MARK_ID: mark}
    )


def test_watermark_is_drawn_at_its_gravity_and_offsets() -> None:
    result = watermarked(images.png(20, 10, BLUE), gravity="northwest", offset_x=5, offset_y="10%")

    assert changed_box(result, WHITE) == (5, 10, 25, 20)
    assert pixel(result, 15, 15) == BLUE


def test_watermark_defaults_to_the_southeast_corner() -> None:
    assert changed_box(watermarked(images.png(20, 10, BLUE)), WHITE) == (80, 90, 100, 100)


def test_watermark_opacity_blends_it() -> None:
    assert near(pixel(watermarked(images.png(20, 10, BLUE), opacity=0.5), 90, 95), (128, 128, 255), 2)


def test_watermark_scales_to_fit_width_and_height() -> None:
    mark = images.png(20, 10, BLUE)

    assert changed_box(watermarked(mark, width="50%", gravity="centre"), WHITE) == (25, 37, 75, 62)
    assert changed_box(watermarked(mark, width=60, height=10, gravity="north"), WHITE) == (40, 0, 60, 10)


def test_a_watermark_with_alpha_shows_only_its_opaque_part() -> None:
    mark = rgba_png(20, 20, (5, 5, 15, 15), (*BLUE, 255))

    assert changed_box(watermarked(mark, gravity="northwest"), WHITE) == (5, 5, 15, 15)


def test_a_watermark_over_a_grey_image_is_in_colour() -> None:
    assert pixel(watermarked(images.png(10, 10, BLUE), source=grey_png(20, 20)), 15, 15) == BLUE


def test_an_animated_watermark_draws_its_first_frame() -> None:
    frames = [Image.new("RGB", (20, 10), color) for color in (RED, BLUE)]
    mark = images.encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)

    result = watermarked(mark, gravity="northwest")

    assert changed_box(result, WHITE) == (0, 0, 20, 10)
    assert pixel(result, 10, 5) == RED


def test_a_missing_watermark_is_source_not_found() -> None:
    with pytest.raises(SourceNotFoundError):
        applied(images.png(10, 10), op("watermark", upload_id=MARK_ID))


def test_a_corrupt_watermark_is_a_corrupt_image_naming_the_watermark() -> None:
    with pytest.raises(CorruptImageError, match="watermark"):
        watermarked(images.png(20, 10)[:60])


def test_a_watermark_is_loaded_once_per_render() -> None:
    loads = []

    def load(upload_id: str) -> bytes:
        loads.append(upload_id)
        return images.png(4, 4, BLUE)

    context = Context(
        load_upload=load,
        max_source_pixels=100_000_000,
        max_frames=500,
        max_output_dimension=16384,
        deadline=Deadline.unlimited(),
    )
    image = pyvips.Image.new_from_buffer(images.png(20, 20, WHITE), "")
    for gravity in ("northwest", "southeast"):
        image = apply(image, Watermark(type="watermark", upload_id=MARK_ID, gravity=gravity), context)

    assert loads == [MARK_ID]
    assert image(1, 1) == image(18, 18) == [0, 0, 255]


# ---- flatten ------------------------------------------------------------------------------------


def test_flatten_puts_alpha_onto_the_colour() -> None:
    assert pixel(applied(images.png_rgba(4, 4, RED, alpha=0), op("flatten", background="#00ff00")), 1, 1) == GREEN
    assert near(pixel(applied(images.png_rgba(4, 4, RED, alpha=128), op("flatten")), 1, 1), (255, 127, 127), 1)


def test_flatten_of_an_opaque_image_changes_nothing() -> None:
    assert pixel(applied(images.png(4, 4), op("flatten", background="blue")), 1, 1) == RED


def test_an_image_flattened_has_no_alpha_band() -> None:
    with Image.open(io.BytesIO(applied(images.png_rgba(4, 4), op("flatten")))) as result:
        assert result.mode == "RGB"


# ---- what the batch-transformation API has: zoom, "50w"/"50h", smooth, mean_removal, blur_selective ----


def test_a_width_or_height_may_be_a_percentage_of_the_other_side() -> None:
    assert size(applied(images.png(200, 100), op("resize", width="50h"))) == (50, 25)
    assert size(applied(images.png(200, 100), op("resize", height="25w"))) == (100, 50)
    assert size(applied(images.png(200, 100), op("crop", width="100h", height="100h"))) == (100, 100)
    assert size(applied(images.png(200, 100), op("pad", left="10h", top="10w"))) == (210, 120)


def test_zoom_shows_the_centre_larger_at_the_same_size() -> None:
    # a red square in the middle fifth of a white image; zoom 10 doubles it
    picture = Image.new("RGB", (200, 100), WHITE)
    picture.paste(RED, (80, 40, 120, 60))

    zoomed = applied(images.encoded(picture, "PNG"), op("zoom", level=10))

    assert size(zoomed) == (200, 100)
    box = changed_box(zoomed, WHITE)
    assert box is not None
    left, top, right, bottom = box
    assert abs((right - left) - 80) <= 3 and abs((bottom - top) - 40) <= 3
    assert abs((left + right) / 2 - 100) <= 2


def test_zoom_keeps_the_part_at_its_gravity_and_level_zero_changes_nothing() -> None:
    quadrants = images.quadrants(200, 100)

    assert pixel(applied(quadrants, op("zoom", level=10, gravity="northwest")), 190, 90)[:3] == RED
    assert images.ssim(applied(quadrants, op("zoom", level=0)), quadrants) == pytest.approx(1)


def test_smooth_lowers_fine_detail_a_little_and_mean_removal_raises_it_a_lot() -> None:
    photo = images.photo(160, 120)

    smoothed, sharpened = (applied(photo, op("filter", name=name)) for name in ("smooth", "mean_removal"))

    assert images.detail(smoothed) < images.detail(photo) * 0.8
    assert images.detail(sharpened) > images.detail(photo) * 2
    assert images.ssim(smoothed, photo) > 0.8


def test_smooth_matches_a_reference_3x3_smoothing() -> None:
    photo = images.photo(120, 90)
    kernel = ImageFilter.Kernel((3, 3), [1, 2, 1, 2, 4, 2, 1, 2, 1], scale=16)
    reference = images.encoded(images.picture(photo).filter(kernel), "PNG")

    assert images.ssim(applied(photo, op("filter", name="smooth")), reference) > 0.97


def test_blur_selective_smooths_flat_areas_and_keeps_edges_sharp() -> None:
    # noise on the left half (low contrast: blurred away), a hard black/white edge on the right
    noisy = Image.effect_noise((100, 100), 8).convert("RGB")
    picture = Image.new("RGB", (200, 100), WHITE)
    picture.paste(noisy, (0, 0))
    picture.paste(BLACK, (150, 0, 200, 100))
    source = images.encoded(picture, "PNG")

    result = applied(source, op("filter", name="blur_selective"))

    left = lambda data: images.encoded(images.picture(data).crop((10, 10, 90, 90)), "PNG")  # noqa: E731
    assert images.detail(left(result)) < images.detail(left(source)) * 0.6
    assert pixel(result, 147, 50)[:3] == WHITE and pixel(result, 152, 50)[:3] == BLACK
