"""Every input format on real pixels: sniffing, decoding to 8-bit sRGB, animation, pages, SVG safety,
the catalogue, and broken or hostile files failing fast with their codes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from imagejobs import engine
from imagejobs.deadline import Deadline
from imagejobs.engine import Limits, Rendered, SourceInfo
from imagejobs.errors import CorruptImageError, SourceNotFoundError, TooManyPixelsError, UnsupportedFormatError
from imagejobs.spec.formats import FORMATS, INPUT_CONTENT_TYPES, OutputFormat, catalogue, page_ranges, sniff
from imagejobs.spec.outputs import Output
from imagejobs.spec.requests import Source
from tests import images
from tests.images import BLUE, GREEN, RED, WHITE, near, pixel, size

LIMITS = Limits(max_source_pixels=100_000_000, max_output_dimension=16384)


def output(fmt: str = "png", *operations: dict[str, Any], name: str = "out", **options: Any) -> Output:
    return Output.model_validate({"name": name, "format": fmt, "operations": list(operations), **options})


def render(
    data: bytes, *outputs: Output, limits: Limits = LIMITS, pages: str | None = None, dpi: int | None = None
) -> tuple[SourceInfo, list[Rendered]]:
    return engine.render(data, outputs or (output(),), limits, Deadline.unlimited(), pages=pages, dpi=dpi)


# ---- the catalogue ------------------------------------------------------------------------------


def test_the_catalogue_lists_every_format_of_the_spec_with_what_it_can_do() -> None:
    entries = {entry["name"]: entry for entry in catalogue()}

    readable = {name for name, entry in entries.items() if entry["read"]}
    writable = {name for name, entry in entries.items() if entry["write"]}
    raws = {"dng", "cr2", "cr3", "nef", "arw", "raf", "orf", "rw2", "pef", "srw", "raw"}
    assert readable == {"jpeg", "png", "webp", "avif", "heic", "jxl", "tiff", "gif", "bmp", "ico", "svg", "pdf"} | raws
    assert writable == {"jpeg", "png", "webp", "avif", "heic", "jxl", "tiff", "gif", "bmp", "ico", "pdf", "auto"}
    assert writable == set(OutputFormat.__args__)
    assert entries["gif"]["animation"] and entries["webp"]["animation"] and not entries["jpeg"]["animation"]
    assert entries["pdf"]["multipage"] and entries["tiff"]["multipage"]
    assert entries["svg"]["content_type"] == "image/svg+xml" and entries["jpeg"]["extensions"][0] == "jpg"
    assert "sizes" in entries["ico"]["options"] and "colors" in entries["gif"]["options"]
    assert {"application/pdf", "image/svg+xml", "image/bmp", "image/x-icon", "image/jxl"} <= INPUT_CONTENT_TYPES
    raw_types = {"image/x-adobe-dng", "image/x-canon-cr2", "image/x-canon-cr3", "image/x-nikon-nef", "image/x-sony-arw"}
    assert raw_types <= INPUT_CONTENT_TYPES
    assert all(not entries[name]["write"] and "LibRaw" in entries[name]["notes"] for name in raws)
    assert "accept" in entries["auto"]["options"] and "lossless" in entries["jxl"]["options"]


def test_every_output_option_named_in_the_catalogue_is_a_field_of_output() -> None:
    assert {option for f in FORMATS.values() for option in f.options} <= Output.model_fields.keys()


# ---- every input format -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "fmt"),
    [
        (lambda: images.jpeg(30, 20), "jpeg"),
        (lambda: images.png(30, 20), "png"),
        (lambda: images.solid(30, 20, fmt="WEBP"), "webp"),
        (lambda: images.solid(30, 20, fmt="AVIF"), "avif"),
        (lambda: images.heic(30, 20), "heic"),
        (lambda: images.solid(30, 20, fmt="TIFF"), "tiff"),
        (lambda: images.solid(30, 20, fmt="GIF"), "gif"),
        (lambda: images.solid(30, 20, fmt="BMP"), "bmp"),
        (lambda: images.encoded(images.quadrants_picture(30, 20).resize((30, 20)), "ICO", sizes=[(30, 20)]), "ico"),
        (lambda: images.svg('<rect width="30" height="20" fill="#ff0000"/>', 30, 20), "svg"),
        (lambda: images.pdf((30, 20, RED)), "pdf"),
        (lambda: images.encoded(images.Image.new("RGB", (30, 20), RED), "JXL", lossless=True), "jxl"),
        (lambda: images.cielab_tiff(30, 20), "tiff"),
        (lambda: images.rle8_bmp(30, 20), "bmp"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_every_input_format_is_sniffed_and_decoded_to_its_size_and_colour(make: Any, fmt: str) -> None:
    data = make()

    source, [result] = render(data, dpi=72 if fmt == "pdf" else None)

    assert sniff(data[:4096]) == fmt
    assert source == SourceInfo(format=fmt, width=30, height=20)
    assert size(result.data) == (30, 20)
    assert near(pixel(result.data, 3, 3)[:3], RED)


def test_an_ico_source_gives_its_largest_icon() -> None:
    data = images.encoded(images.quadrants_picture(64, 64), "ICO", sizes=[(16, 16), (64, 64), (32, 32)])

    source, _ = render(data)

    assert (source.width, source.height) == (64, 64)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (images.cmyk_jpeg(8, 8, RED), (*RED,)),
        (images.png16(8, 8, GREEN), (*GREEN,)),
        (images.grey_alpha_png(8, 8, grey=128, alpha=128), (128, 128, 128, 128)),
        (images.palette_png(8, 8, BLUE), (*BLUE,)),
    ],
    ids=["cmyk", "16-bit", "grey+alpha", "palette"],
)
def test_cmyk_16_bit_grey_and_palette_sources_end_in_8_bit_srgb(data: bytes, expected: tuple[int, ...]) -> None:
    _, [result] = render(data, output("png"))

    assert near(pixel(result.data, 4, 4), expected, tolerance=40 if len(expected) == 3 else 2)
    assert images.picture(result.data).mode == ("RGBA" if len(expected) == 4 else "RGB")


@pytest.mark.parametrize(
    "head",
    [b"BM" + b"\x00" * 12 + b"\x05", b"\x00\x00\x01\x00\x00\x00", b"<html><body>svg</body></html>", b"%PD"],
)
def test_lookalike_headers_are_not_sniffed_as_images(head: bytes) -> None:
    assert sniff(head) is None


@pytest.mark.parametrize("head", [b"<!--a-->" * 600, b"<!DOCTYPE [ ]>" * 300, b"<!--" * 1000])
def test_sniffing_a_hostile_prologue_takes_no_time(head: bytes) -> None:
    started = time.monotonic()

    assert sniff(head[:4096] + b"<x") is None
    assert time.monotonic() - started < 0.05


def test_an_svg_after_a_comment_and_a_public_doctype_is_sniffed_and_rendered() -> None:
    prologue = '<!-- drawn by hand -->\n<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/svg11.dtd">\n'
    data = images.svg('<rect width="40" height="20" fill="#0000ff"/>', prologue=prologue)

    source, [result] = render(data)

    assert source.format == "svg"
    assert near(pixel(result.data, 20, 10), (*BLUE, 255))


def test_an_svg_renders_at_the_dpi_asked() -> None:
    source, _ = render(images.svg('<rect width="40" height="20" fill="red"/>'), dpi=144)

    assert (source.width, source.height) == (80, 40)


# ---- SVG safety ---------------------------------------------------------------------------------


def test_svg_scripts_handlers_and_external_references_are_removed_before_rendering() -> None:
    # GIVEN an SVG with a script, an event handler, foreignObject HTML, an external image and external CSS
    body = (
        "<script>alert(1)</script>"
        '<style>@import url("https://evil.example/x.css");</style>'
        '<rect width="40" height="20" fill="#00ff00" onload="steal()"/>'
        '<image href="https://evil.example/track.png" x="0" y="0" width="20" height="20"/>'
        '<image xlink:href="file:///etc/passwd" x="20" y="0" width="20" height="20"/>'
        '<foreignObject width="40" height="20"><div xmlns="http://www.w3.org/1999/xhtml">hi</div></foreignObject>'
    )
    from imagejobs.engine.readers.svg import sanitise  # noqa: PLC0415 - the unit under test, by itself

    cleaned = sanitise(images.svg(body)).data

    # THEN none of them is left, and what remains renders
    for gone in (b"script", b"onload", b"evil.example", b"file://", b"foreignObject", b"@import"):
        assert gone not in cleaned
    _, [result] = render(images.svg(body))
    assert near(pixel(result.data, 10, 10), (*GREEN, 255))


def test_svg_keeps_internal_references_and_embedded_images() -> None:
    body = (
        '<defs><linearGradient id="g"><stop offset="0" stop-color="#ff0000"/></linearGradient></defs>'
        '<rect width="40" height="20" fill="url(#g)"/>'
    )

    _, [result] = render(images.svg(body))

    assert near(pixel(result.data, 20, 10), (*RED, 255))


def test_a_billion_laughs_svg_is_refused_at_once() -> None:
    started = time.monotonic()
    with pytest.raises(UnsupportedFormatError, match="DOCTYPE"):
        render(images.BILLION_LAUGHS)

    assert time.monotonic() - started < 0.5


def test_a_malformed_svg_is_a_corrupt_image() -> None:
    with pytest.raises(CorruptImageError, match="svg"):
        render(b'<svg xmlns="http://www.w3.org/2000/svg" width="10"><rect></svg>')


# ---- animation ----------------------------------------------------------------------------------


@pytest.mark.parametrize("source_format", ["GIF", "WEBP"])
@pytest.mark.parametrize("output_format", ["webp", "gif"])
def test_an_animation_keeps_its_frames_and_delays_through_operations(source_format: str, output_format: str) -> None:
    # GIVEN a 40x20 animation of red, green, blue frames shown 100, 200 and 300 ms
    data = images.animated(source_format, 40, 20, (RED, GREEN, BLUE), (100, 200, 300))

    # WHEN it is resized and turned
    source, [result] = render(
        data, output(output_format, {"type": "resize", "width": 20}, {"type": "rotate", "angle": 90})
    )

    # THEN every frame is 10x20, and the frames and their timing are kept
    assert (source.width, source.height) == (40, 20)
    assert (result.width, result.height) == (10, 20)
    assert images.animation_of(result.data) == (3, [100, 200, 300], 20)


def test_a_still_output_of_an_animation_is_its_first_frame() -> None:
    data = images.animated("GIF", 40, 20, (RED, GREEN, BLUE), (100, 100, 100))

    _, results = render(data, output("png", name="png"), output("jpeg", name="jpeg"), output("avif", name="avif"))

    for result in results:
        assert size(result.data) == (40, 20)
        assert near(pixel(result.data, 20, 10)[:3], RED, tolerance=20)


def test_auto_keeps_an_animation_as_webp() -> None:
    data = images.animated("GIF", 40, 20, (RED, GREEN), (100, 100))

    _, [result] = render(data, output("auto"))

    assert result.format == "webp" and images.animation_of(result.data)[0] == 2


# ---- pages ----------------------------------------------------------------------------------------


def test_a_pdf_page_selection_gives_one_output_per_page_named_by_page() -> None:
    # GIVEN a three-page PDF: 72x36 pt red, 36x36 pt green, 36x72 pt blue
    data = images.pdf((72, 36, RED), (36, 36, GREEN), (36, 72, BLUE))

    # WHEN pages 1 and 3 are rendered at 144 dpi into two outputs
    source, results = render(data, output("png", name="full"), output("jpeg", name="small"), pages="1,3", dpi=144)

    # THEN each output comes once per page, at the page's size at that dpi, with its colour
    assert (source.format, source.width, source.height) == ("pdf", 144, 72)
    assert [(r.name, r.page, r.width, r.height) for r in results] == [
        ("full-p1", 1, 144, 72),
        ("full-p3", 3, 72, 144),
        ("small-p1", 1, 144, 72),
        ("small-p3", 3, 72, 144),
    ]
    assert near(pixel(results[0].data, 10, 10), RED) and near(pixel(results[1].data, 10, 10), BLUE)


def test_a_pdf_renders_its_first_page_at_150_dpi_by_default_with_the_output_name() -> None:
    source, [result] = render(images.pdf((72, 72, WHITE), (72, 72, RED)))

    assert (source.width, source.height) == (150, 150)
    assert (result.name, result.page) == ("out", None)


def test_a_pdf_too_large_for_the_limit_at_150_dpi_is_rendered_at_a_lower_dpi() -> None:
    # GIVEN a 10 x 10 inch page: 1500x1500 at 150 dpi, above a 1 MP limit
    limits = Limits(max_source_pixels=1_000_000, max_output_dimension=16384)

    source, _ = render(images.pdf((720, 720, RED)), limits=limits)

    assert source.width * source.height <= 1_000_000 and source.width >= 990


def test_a_pdf_at_an_explicit_dpi_above_the_limit_is_refused() -> None:
    limits = Limits(max_source_pixels=1_000_000, max_output_dimension=16384)

    with pytest.raises(TooManyPixelsError, match="1500x1500"):
        render(images.pdf((720, 720, RED)), limits=limits, dpi=150)


def test_the_pixel_limit_counts_every_selected_page() -> None:
    limits = Limits(max_source_pixels=20_000, max_output_dimension=16384)
    data = images.multipage_tiff((100, 100, RED), (100, 100, GREEN), (100, 100, BLUE))

    render(data, limits=limits, pages="1-2")
    with pytest.raises(TooManyPixelsError, match="3 pages"):
        render(data, limits=limits, pages="1-")


def test_a_multipage_tiff_selects_pages_with_an_open_range() -> None:
    data = images.multipage_tiff((10, 10, RED), (20, 10, GREEN), (30, 10, BLUE))

    _, results = render(data, pages="2-")

    assert [(r.name, r.width) for r in results] == [("out-p2", 20), ("out-p3", 30)]
    assert near(pixel(results[1].data, 5, 5), BLUE)


@pytest.mark.parametrize(("data", "pages"), [(images.pdf((72, 72, RED)), "2"), (images.png(8, 8), "1-2")])
def test_a_page_the_source_does_not_have_is_source_not_found(data: bytes, pages: str) -> None:
    with pytest.raises(SourceNotFoundError, match="pages"):
        render(data, pages=pages)


@pytest.mark.parametrize(("pages", "ranges"), [("1", [(1, 1)]), ("1-3,5,8-", [(1, 3), (5, 5), (8, None)])])
def test_page_ranges_parse(pages: str, ranges: list[tuple[int, int | None]]) -> None:
    assert page_ranges(pages) == ranges


@pytest.mark.parametrize("pages", ["0", "3-1", "1,,2", "a", "-2"])
def test_a_source_refuses_page_selections_that_are_not_ranges(pages: str) -> None:
    with pytest.raises(ValueError, match="pages"):
        Source.model_validate({"upload_id": "upl_01M7YA9N5BT8MD9QV08S0WDDEP", "pages": pages})


def test_output_names_ending_like_a_page_are_refused() -> None:
    with pytest.raises(ValueError, match="-p and digits"):
        output("png", name="thumb-p2")


# ---- broken and hostile files ---------------------------------------------------------------------


def _bmp_claiming(width: int, height: int) -> bytes:
    small = images.solid(8, 8, fmt="BMP")
    return small[:18] + width.to_bytes(4, "little") + height.to_bytes(4, "little") + small[26:]


@pytest.mark.parametrize(
    "data",
    [
        images.solid(64, 64, fmt="BMP")[:-500],
        images.encoded(images.quadrants_picture(32, 32), "ICO")[:30],
        images.pdf((72, 72, RED))[:200],
        images.solid(64, 64, fmt="GIF")[:-40],
        images.solid(64, 64, fmt="WEBP")[:-40],
        images.multipage_tiff((64, 64, RED))[:-3000],
        b"%PDF-1.7\n",
    ],
    ids=["bmp", "ico", "pdf", "gif", "webp", "tiff", "pdf-header-only"],
)
def test_truncated_files_of_every_format_are_corrupt_images(data: bytes) -> None:
    with pytest.raises(CorruptImageError):
        render(data)


def test_text_is_an_unsupported_format_whatever_it_is_called() -> None:
    with pytest.raises(UnsupportedFormatError):
        render(b"name,width\nphoto.jpg,400\n")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (images.gif_claiming(30_000, 30_000), "30000x30000"),
        (images.gif_claiming(100, 100, frames=600), "600 frames"),
        (images.gif_claiming(1000, 1000, frames=200), r"1000x1000 pixels x 200 frames"),
        (_bmp_claiming(40_000, 40_000), "bmp header"),
    ],
    ids=["gif-dimensions", "gif-frame-count", "gif-pixels-times-frames", "bmp-dimensions"],
)
def test_decompression_bombs_are_refused_from_the_header_at_once(data: bytes, message: str) -> None:
    started = time.monotonic()
    with pytest.raises(TooManyPixelsError, match=message):
        render(data)

    assert time.monotonic() - started < 0.5


# ---- camera RAW -----------------------------------------------------------------------------------

PHOTO = Path(__file__).resolve().parents[2] / "samples" / "photo.jpg"


@pytest.fixture(scope="module")
def photo_dng() -> bytes:
    """samples/photo.jpg as a camera would have recorded it: linear light, mosaiced, 16 bits, in a DNG."""
    return images.dng(images.Image.open(PHOTO))


def test_a_dng_develops_into_the_photograph_it_was_made_from(photo_dng: bytes) -> None:
    source, [result] = render(photo_dng, output("jpeg", quality=95))

    assert source == SourceInfo(format="dng", width=1600, height=1067)
    assert result.data[:3] == b"\xff\xd8\xff" and size(result.data) == (1600, 1067)
    assert images.ssim(result.data, PHOTO.read_bytes()) > 0.98
    assert near(images.mean_colour(result.data), images.mean_colour(PHOTO.read_bytes()), tolerance=3)


def test_a_raw_is_developed_with_the_cameras_white_balance() -> None:
    # a grey card shot under warm light: the sensor records it orange, the camera's white balance says so
    grey = images.Image.new("RGB", (64, 64), (160, 160, 160))

    _, [result] = render(images.dng(grey, neutral=(255, 190, 120)))

    red, green, blue = pixel(result.data, 32, 32)[:3]
    assert max(red, green, blue) - min(red, green, blue) <= 4, (red, green, blue)


def test_a_raw_is_turned_upright() -> None:
    stored = images.picture(images.quadrants(60, 40))

    source, [result] = render(images.dng(stored, orientation=6))  # shown turned 90° clockwise

    assert (source.width, source.height) == size(result.data) == (40, 60)
    assert near(pixel(result.data, 35, 5)[:3], RED, tolerance=30)  # the top-left corner went top-right


def test_a_raw_whose_outputs_are_all_at_most_half_its_size_is_decoded_at_half_size(photo_dng: bytes) -> None:
    header = engine.source.read_header(photo_dng, LIMITS.max_source_pixels, LIMITS.max_frames)

    [half] = engine.source.decode(header, Deadline.unlimited(), (800, 533))
    [whole] = engine.source.decode(header, Deadline.unlimited(), (801, 533))

    assert (half.image.width, half.image.height, half.width, half.height) == (800, 534, 1600, 1067) and half.shrunk
    assert (whole.image.width, whole.image.height) == (1600, 1067) and not whole.shrunk


def test_a_half_size_raw_decode_gives_the_outputs_a_whole_one_would(photo_dng: bytes) -> None:
    thumb = output("png", {"type": "resize", "width": 400, "height": 400, "fit": "cover"})
    _, [from_half] = render(photo_dng, thumb)
    _, [from_whole, _] = render(photo_dng, thumb, output("png", name="whole"))  # one needs all: no shrink

    assert size(from_half.data) == size(from_whole.data) == (400, 400)
    assert images.ssim(from_half.data, from_whole.data) > 0.95


def test_a_raw_over_the_pixel_limit_is_refused_from_its_header(photo_dng: bytes) -> None:
    with pytest.raises(TooManyPixelsError, match="1600x1067"):
        render(photo_dng, limits=Limits(max_source_pixels=1_000_000, max_output_dimension=16384))


@pytest.mark.parametrize(
    ("head", "fmt"),
    [
        (images.tiff_with_tags({256: 10, 257: 10, 262: 32803, 271: b"NIKON CORPORATION"}), "nef"),
        (images.tiff_with_tags({256: 10, 257: 10, 262: 32803, 271: b"SONY"}), "arw"),
        (images.tiff_with_tags({256: 10, 257: 10, 262: 32803, 271: b"PENTAX"}), "pef"),
        (images.tiff_with_tags({256: 10, 257: 10, 262: 32803, 271: b"Hasselblad"}), "raw"),
        (images.tiff_with_tags({256: 10, 257: 10, 262: 2, 271: b"NIKON CORPORATION"}), "tiff"),  # a picture
        (images.tiff_with_tags({256: 10, 257: 10, 50706: 1}), "dng"),
        (b"II*\x00\x10\x00\x00\x00CR\x02\x00" + bytes(64), "cr2"),
        (b"\x00\x00\x00\x18ftypcrx \x00\x00\x00\x01crx isom" + bytes(64), "cr3"),
        (b"IIRO\x08\x00\x00\x00" + bytes(64), "orf"),
        (b"IIU\x00\x08\x00\x00\x00" + bytes(64), "rw2"),
        (b"FUJIFILMCCD-RAW 0201FF383501" + bytes(64), "raf"),
        (images.jxl_codestream_claiming(10, 10), "jxl"),
        (b"\x00\x00\x00\x0cJXL \r\n\x87\n" + bytes(64), "jxl"),
    ],
)
def test_camera_raws_and_jxl_are_sniffed_from_their_bytes(head: bytes, fmt: str) -> None:
    assert sniff(head) == fmt


def test_a_raw_libraw_cannot_read_is_refused_with_its_code() -> None:
    fake_nef = images.tiff_with_tags({256: 10, 257: 10, 262: 32803, 271: b"NIKON CORPORATION"})

    with pytest.raises(UnsupportedFormatError, match="LibRaw"):
        render(fake_nef)


def test_the_raw_content_types_are_accepted_for_uploads() -> None:
    for content_type in ("image/x-adobe-dng", "image/x-canon-cr2", "image/x-canon-cr3", "image/x-nikon-nef"):
        upload = Source.model_validate({"upload": {"filename": "shot.raw", "content_type": content_type}})
        assert upload.upload is not None


# ---- Pillow where libvips cannot, and headers over the limit that their codecs refuse ----------


def test_a_tiff_libvips_refuses_is_read_by_pillow_within_the_same_limits() -> None:
    lab = images.cielab_tiff(300, 200, GREEN)

    _, [result] = render(lab)
    assert near(pixel(result.data, 10, 10)[:3], GREEN, tolerance=16)  # 8-bit L*a*b* clips green a little
    with pytest.raises(TooManyPixelsError, match="300x200"):
        render(lab, limits=Limits(max_source_pixels=50_000, max_output_dimension=16384))


@pytest.mark.parametrize(
    "data",
    [
        b"RIFF\x16\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00\x00\x00\x00\x00\xff\x3f\x00\xff\x3f\x00",
        images.jxl_codestream_claiming(60000, 50000),
    ],
    ids=["webp-16384x16384", "jxl-60000x50000"],
)
def test_a_header_over_the_limit_is_too_many_pixels_even_when_its_codec_refuses_it(data: bytes) -> None:
    with pytest.raises(TooManyPixelsError, match="above the limit"):
        render(data)


def test_a_header_its_codec_refuses_within_the_limit_is_still_corrupt() -> None:
    small = b"RIFF\x16\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00\x00\x00\x00\x00\x3f\x00\x00\x3f\x00\x00"

    with pytest.raises(CorruptImageError):
        render(small)
