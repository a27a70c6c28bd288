"""A job's analysis (`"analysis": true`) on real pixels: the palette of a picture of known colours,
placeholders that match their reference implementations and decode back to the picture, EXIF of a
real photograph (GPS only when asked, and never in the outputs unless they keep metadata), alpha and
animation, and failures that leave a note rather than fail the job."""

from __future__ import annotations

import base64
import io
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from imagejobs import engine
from imagejobs.deadline import Deadline
from imagejobs.engine import exif, placeholders
from imagejobs.spec.documents import Analysis, Camera, GpsPosition, PaletteColour
from imagejobs.spec.outputs import Output
from imagejobs.spec.requests import AnalysisRequest, JobRequest
from imagejobs.store.records import StoredRequest
from tests import images
from tests.images import BLUE, GREEN, RED, WHITE

LIMITS = engine.Limits(max_source_pixels=100_000_000, max_output_dimension=16384)
SMALL = [Output.model_validate({"name": "small", "format": "webp", "operations": [{"type": "resize", "width": 64}]})]
EIFFEL = ((48.0, 51.0, 29.5), "N", (2.0, 17.0, 40.2), "E", 35.5)  # 48.858194 N, 2.2945 E


def analysed(data: bytes, outputs: list[Output] = SMALL, deadline: Deadline | None = None, **options: bool) -> Analysis:
    info, _ = engine.render(
        data, outputs, LIMITS, deadline or Deadline.unlimited(), analysis=AnalysisRequest(**options)
    )
    assert info.analysis is not None
    return info.analysis


def hex_colour(colour: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*colour)


def rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


# ---- the palette ---------------------------------------------------------------------------------


def areas(width: int, height: int) -> bytes:
    """Half red (left), a quarter blue (top right), a quarter green (bottom right), in a JPEG."""
    picture = Image.new("RGB", (width, height), RED)
    picture.paste(BLUE, (width // 2, 0, width, height // 2))
    picture.paste(GREEN, (width // 2, height // 2, width, height))
    return images.encoded(picture, "JPEG", quality=95)


def test_a_picture_of_known_colour_areas_gives_those_colours_and_their_shares() -> None:
    # GIVEN a 1200x800 JPEG that is half red, a quarter blue and a quarter green
    # WHEN it is analysed
    palette = analysed(areas(1200, 800)).palette

    # THEN its palette is those three colours, largest first, each with its share of the area
    assert palette is not None
    assert all(
        images.near(rgb(colour.color), expected, 16)
        for colour, expected in zip(palette[:3], (RED, BLUE, GREEN), strict=True)
    ), palette
    assert palette[0].share == pytest.approx(0.5, abs=0.04)
    assert palette[1].share == pytest.approx(0.25, abs=0.04)
    assert palette[2].share == pytest.approx(0.25, abs=0.04)
    assert sum(colour.share for colour in palette) <= 1.0


def test_a_photographs_palette_is_made_of_its_own_colours() -> None:
    # GIVEN a real photograph
    data = images.photograph()
    thumbnail = images.picture(data).resize((32, 37), Image.Resampling.BOX)

    # WHEN it is analysed
    palette = analysed(data).palette

    # THEN every colour listed is one the photograph has in about its share, and together they cover most of it
    assert palette is not None and 3 <= len(palette) <= 6
    assert sum(colour.share for colour in palette) >= 0.8
    pixels = list(thumbnail.get_flattened_data())
    for colour in palette:
        close = sum(math.dist(pixel, rgb(colour.color)) < 48 for pixel in pixels) / len(pixels)
        assert close >= colour.share * 0.5, (colour, close)
    # and the dark suit and background, most of the picture, come first
    assert max(rgb(palette[0].color)) < 64


def test_only_the_opaque_part_of_a_picture_is_counted() -> None:
    # GIVEN a PNG whose left half is transparent and right half opaque blue
    picture = Image.new("RGBA", (200, 100), (*RED, 0))
    picture.paste((*BLUE, 255), (100, 0, 200, 100))

    # WHEN it is analysed
    analysis = analysed(images.encoded(picture, "PNG"))

    # THEN the palette is the blue, as half of the area, and the source has alpha
    assert analysis.palette is not None
    assert [rgb(colour.color) for colour in analysis.palette] == [BLUE]
    assert analysis.palette[0].share == pytest.approx(0.5, abs=0.03)
    assert analysis.has_alpha


# ---- the placeholders ----------------------------------------------------------------------------


def formula(width: int, height: int, alpha: bool) -> list[placeholders.Pixel]:
    """Pixels from a formula, so that a reference implementation can be given exactly the same ones
    (in JavaScript, `(expression) | 0` for `int`). Its alpha has no symmetry: a ThumbHash term that is
    zero in theory is 7.5 before rounding, which floating-point noise rounds either way."""
    return [
        (
            int((width - 1 - x) * 255 / (width - 1)),
            int((height - 1 - y) * 255 / (height - 1)),
            ((x * 7 + y * 13) % 64) * 4,
            (x * 11 + y * 5) % 256 if alpha else 255,
        )
        for y in range(height)
        for x in range(width)
    ]


# Made by the reference implementations from `formula`'s pixels: the npm packages blurhash 2.0.5 (Wolt's
# TypeScript encoder, `encode(pixels, w, h, nx, ny)`) and thumbhash 0.1.1 (evanw's, `rgbaToThumbHash`).
# The TypeScript encoder scales the AC terms by their largest signed value where the specification's C and
# Swift encoders take the largest absolute value (as this one does): `formula`'s largest term is positive,
# where they agree. On the specification's own example (Swift/BlurHashTest/pic1.png, 316x178, 4x3) this
# encoder gives its README's LaJHjmVu8_~po#smR+a~xaoLWCRj (checked once; that picture is not ours to commit).
@pytest.mark.parametrize(
    ("width", "height", "nx", "ny", "expected"),
    [(40, 30, 4, 3, "L.HetU|_$4xGq8oLjsj@gcfjfPfi"), (30, 40, 3, 4, "T.HetU|_$4q8kAjsgdfifRo{j@js")],
)
def test_blurhash_is_the_reference_encoders(width: int, height: int, nx: int, ny: int, expected: str) -> None:
    assert placeholders.blurhash(width, height, formula(width, height, alpha=False), nx, ny) == expected


@pytest.mark.parametrize(
    ("width", "height", "alpha", "expected"),
    [
        (40, 30, False, "HwgKPZp/eHiPd3d3d4d4eI9/+Ah4"),
        (30, 40, True, "3xeGHA4YT/h1Z3d49/Vlr2CXSEgId3V3Bw=="),
        (100, 64, True, "H/iFG4wHf3h/d3ePf/gHeFdHp6dwgJM="),
    ],
)
def test_thumbhash_is_the_reference_encoders(width: int, height: int, alpha: bool, expected: str) -> None:
    assert placeholders.thumbhash(width, height, formula(width, height, alpha)) == expected


_BASE83 = {character: index for index, character in enumerate(placeholders._BASE83)}


def srgb_to_linear(value: float) -> float:
    value /= 255
    return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4


def linear_to_srgb(value: float) -> float:
    value = min(1.0, max(0.0, value))
    return 255 * (value * 12.92 if value <= 0.0031308 else 1.055 * value ** (1 / 2.4) - 0.055)


def decode_blurhash(text: str, width: int, height: int) -> list[list[tuple[float, float, float]]]:
    """A BlurHash as width x height sRGB pixels (rows), as its specification (Algorithm.md) says to decode it."""

    def number(part: str) -> int:
        value = 0
        for character in part:
            value = value * 83 + _BASE83[character]
        return value

    size = number(text[0])
    nx, ny = size % 9 + 1, size // 9 + 1
    assert len(text) == 4 + 2 * nx * ny
    maximum = (number(text[1]) + 1) / 166
    dc = number(text[2:6])
    terms = [(srgb_to_linear(dc >> 16), srgb_to_linear((dc >> 8) & 255), srgb_to_linear(dc & 255))]
    for index in range(1, nx * ny):
        value = number(text[4 + 2 * index : 6 + 2 * index])
        quantised = (value // 361, (value // 19) % 19, value % 19)
        terms.append(tuple(math.copysign(((q - 9) / 9) ** 2, q - 9) * maximum for q in quantised))  # type: ignore[arg-type]
    return [
        [
            tuple(  # type: ignore[misc]
                linear_to_srgb(
                    sum(
                        terms[j * nx + i][band] * math.cos(math.pi * x * i / width) * math.cos(math.pi * y * j / height)
                        for j in range(ny)
                        for i in range(nx)
                    )
                )
                for band in range(3)
            )
            for x in range(width)
        ]
        for y in range(height)
    ]


def test_a_photographs_blurhash_decodes_to_its_picture_blurred() -> None:
    # GIVEN a real photograph, analysed
    data = images.photograph()
    analysis = analysed(data)
    assert analysis.blurhash is not None

    # WHEN its BlurHash is decoded at 30x40 (a portrait: 3x4 components), and both are seen as 3x4 blocks
    decoded = Image.new("RGB", (30, 40))
    decoded.putdata(
        [tuple(round(v) for v in pixel) for row in decode_blurhash(analysis.blurhash, 30, 40) for pixel in row]
    )
    seen = decoded.resize((3, 4), Image.Resampling.BOX)
    photograph = images.picture(data).convert("RGB")
    blocks = photograph.resize((3, 4), Image.Resampling.BOX)
    flat = photograph.resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))

    # THEN it says 3x4, its DC term is the photograph's average in linear light, and its blocks are much nearer
    # the photograph's than a flat average colour is (12 terms smooth the edges: they cannot match the blocks)
    assert analysis.blurhash[0] == "T"
    dc = sum(_BASE83[character] * 83**power for power, character in enumerate(reversed(analysis.blurhash[2:6])))
    linear = [sum(srgb_to_linear(pixel[band]) for pixel in photograph.get_flattened_data()) for band in range(3)]
    average = tuple(linear_to_srgb(value / (photograph.width * photograph.height)) for value in linear)
    # (within several levels a channel: its 32 px thumbnail was shrunk in sRGB, as thumbnails are, which darkens
    # a contrasty picture's average a little)
    assert math.dist((dc >> 16, (dc >> 8) & 255, dc & 255), average) < 16, (hex(dc), average)
    cells = [(x, y) for y in range(4) for x in range(3)]
    error = sum(math.dist(seen.getpixel(cell), blocks.getpixel(cell)) for cell in cells) / 12  # type: ignore[arg-type]
    baseline = sum(math.dist(flat, blocks.getpixel(cell)) for cell in cells) / 12  # type: ignore[arg-type]
    assert error < 0.75 * baseline, (error, baseline)


def thumbhash_average(text: str) -> tuple[tuple[float, float, float], bool, bool]:
    """(the average sRGB colour, has alpha, landscape) that a ThumbHash's header says (evanw's layout)."""
    packed = base64.b64decode(text)
    header24 = packed[0] | packed[1] << 8 | packed[2] << 16
    header16 = packed[3] | packed[4] << 8
    lum, p, q = (header24 & 63) / 63, ((header24 >> 6) & 63) / 31.5 - 1, ((header24 >> 12) & 63) / 31.5 - 1
    b = lum - 2 / 3 * p
    r = (3 * lum - b + q) / 2
    return (255 * r, 255 * (r - q), 255 * b), bool(header24 >> 23), bool(header16 >> 15)


@pytest.mark.parametrize(("source", "alpha"), [("photograph", False), ("logo", True)])
def test_a_thumbhash_says_the_average_colour_and_alpha_of_its_picture(source: str, alpha: bool) -> None:
    # GIVEN a real photograph (a portrait) and the real RGBA logo of samples/
    data = images.photograph() if source == "photograph" else images.SAMPLES.joinpath("logo.png").read_bytes()

    # WHEN each is analysed
    analysis = analysed(data)
    assert analysis.thumbhash is not None

    # THEN the ThumbHash's header has the picture's average colour (over its opaque part), alpha and orientation
    average, has_alpha, landscape = thumbhash_average(analysis.thumbhash)
    picture = images.picture(data).convert("RGBA")
    pixels = [pixel for pixel in picture.get_flattened_data() if pixel[3] > 0]
    weights = sum(pixel[3] for pixel in pixels)
    expected = tuple(sum(pixel[band] * pixel[3] for pixel in pixels) / weights for band in range(3))
    assert math.dist(average, expected) < 12, (average, expected)
    assert (has_alpha, landscape) == (alpha, picture.width > picture.height)


# ---- EXIF ----------------------------------------------------------------------------------------


def test_a_photographs_camera_and_capture_time_are_read_and_gps_only_when_asked() -> None:
    # GIVEN a real photograph with a camera's EXIF, a GPS position included
    data = images.with_exif(images.photograph(), images.camera_exif(gps=EIFFEL).tobytes())

    # WHEN it is analysed without asking for GPS, then asking
    plain, located = analysed(data), analysed(data, gps=True)

    # THEN both have the camera and the capture time with its offset; only the second the position
    for analysis in (plain, located):
        assert analysis.camera == Camera(make="Canon", model="Canon EOS 5D")
        assert analysis.captured_at == "2024-05-01T14:03:22+02:00"
        assert analysis.notes == []
    assert plain.gps is None
    assert "gps" not in plain.model_dump(exclude_none=True)
    assert located.gps == GpsPosition(latitude=48.858194, longitude=2.2945, altitude=35.5)


def test_southern_western_positions_are_negative_and_a_time_without_offset_stays_local() -> None:
    block = images.camera_exif(offset=None, gps=((33.0, 51.0, 54.0), "S", (151.0, 12.0, 36.0), "W", 3.0)).tobytes()
    found = exif.read(block, gps=True)
    assert (found.latitude, found.longitude, found.captured_at) == (-33.865, -151.21, "2024-05-01T14:03:22")


def test_gps_is_not_read_unless_asked_and_an_impossible_position_is_none() -> None:
    # a position is read only when asked
    assert exif.read(images.camera_exif(gps=EIFFEL).tobytes()).latitude is None
    # a latitude over 90 degrees (a longitude's value in the wrong tag) is no position
    wrong = images.camera_exif(gps=((120.0, 0.0, 0.0), "N", (2.0, 17.0, 40.2), "E", 35.5)).tobytes()
    assert (exif.read(wrong, gps=True).latitude, exif.read(wrong, gps=True).longitude) == (None, None)


def test_a_heic_from_a_phone_has_its_exif_read() -> None:
    # GIVEN the photograph as a HEIC with a phone's EXIF (pillow-heif writes it in the HEIF's Exif item)
    exif_block = images.camera_exif(make="Apple", model="iPhone 15 Pro", gps=EIFFEL)
    data = images.encoded(images.picture(images.photograph()), "HEIF", quality=80, exif=exif_block)

    analysis = analysed(data, gps=True)

    assert analysis.camera == Camera(make="Apple", model="iPhone 15 Pro")
    assert analysis.captured_at == "2024-05-01T14:03:22+02:00"
    assert analysis.gps is not None and analysis.gps.latitude == pytest.approx(48.858194)


def test_a_camera_raw_has_its_camera_read_from_its_own_tiff_structure() -> None:
    # GIVEN a real DNG (the photograph's pixels mosaiced as a sensor records them), made by a named camera
    data = images.dng(images.picture(images.photograph()))

    analysis = analysed(data)

    assert analysis.camera == Camera(make="imagejobs", model="Bayer test camera")
    assert analysis.notes == []


@pytest.mark.parametrize("fmt", ["jpeg", "webp", "png"])
def test_the_outputs_carry_no_gps_unless_they_keep_metadata(fmt: str) -> None:
    # GIVEN a GPS-tagged photograph, analysed with GPS, into an output that strips metadata and one that keeps it
    data = images.with_exif(images.photograph(), images.camera_exif(gps=EIFFEL).tobytes())
    outputs = [
        Output.model_validate({"name": "plain", "format": fmt}),
        Output.model_validate({"name": "kept", "format": fmt, "keep_metadata": True}),
    ]

    # WHEN the job renders
    info, (plain, kept) = engine.render(data, outputs, LIMITS, Deadline.unlimited(), analysis=AnalysisRequest(gps=True))

    # THEN the analysis has the position, the plain output has no EXIF at all, and the kept one has the GPS IFD
    assert info.analysis is not None and info.analysis.gps is not None
    assert not Image.open(io.BytesIO(plain.data)).getexif()
    assert Image.open(io.BytesIO(kept.data)).getexif().get_ifd(0x8825)


def test_an_unreadable_exif_block_is_a_note_and_the_rest_is_still_analysed() -> None:
    # GIVEN a photograph whose EXIF block's first IFD points past its end
    broken = b"Exif\x00\x00II*\x00" + (4000).to_bytes(4, "little")
    data = images.with_exif(images.photograph(), broken)

    # WHEN it is rendered with analysis
    info, (output,) = engine.render(data, SMALL, LIMITS, Deadline.unlimited(), analysis=AnalysisRequest())

    # THEN the output is made, and the analysis has its pictorial part and a note instead of the camera
    assert images.size(output.data) == (64, 75)
    assert info.analysis is not None
    assert info.analysis.camera is None and info.analysis.captured_at is None
    assert info.analysis.palette and info.analysis.blurhash and info.analysis.thumbhash
    assert [note.split(" (")[0] for note in info.analysis.notes] == ["exif: unreadable"]


@pytest.mark.parametrize(
    "block",
    [
        b"Exif\x00\x00II*\x00\x08\x00\x00\x00\xff\xff",  # an IFD of 65535 entries
        # a make of 4096 characters, past the end
        b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x01\x01\x0f\x00\x02\x00\x00\x10\x00\x00\x00\x00\x08",
        b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x01\x00\x69\x87\x02\x00\x01\x00\x00\x00X\x00\x00\x00",  # Exif IFD as text
        b"Exif\x00\x00II+\x00",  # not TIFF
    ],
)
def test_broken_exif_blocks_fail_one_way(block: bytes) -> None:
    with pytest.raises(exif.ExifError):
        exif.read(block)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_damage_to_an_exif_block_reads_or_fails_one_way(data: st.DataObject) -> None:
    # GIVEN a camera's EXIF block (GPS included), with some of its bytes overwritten at random
    block = bytearray(images.camera_exif(gps=EIFFEL).tobytes())
    for _ in range(data.draw(st.integers(1, 8))):
        block[data.draw(st.integers(6, len(block) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(6, len(block)))

    # WHEN it is read, whole or cut short, THEN it gives fields or ExifError, and nothing else
    for damaged in (bytes(block), bytes(block[:cut])):
        try:
            found = exif.read(damaged, gps=True)
        except exif.ExifError:
            continue
        assert found.make is None or len(found.make) <= exif.TEXT_MAX
        assert found.latitude is None or -90 <= found.latitude <= 90


def test_a_job_out_of_time_skips_the_pixels_with_a_note_and_keeps_its_outputs() -> None:
    # GIVEN a job with half a second left past its reserve: time for its outputs, none for the pictorial part
    data = images.with_exif(images.photograph(), images.camera_exif().tobytes())
    deadline = Deadline(lambda: 500, reserve_ms=0)

    analysis = analysed(data, deadline=deadline)

    assert (analysis.palette, analysis.blurhash, analysis.thumbhash) == (None, None, None)
    assert analysis.notes == ["pixels: skipped, the job had no time left for them"]
    assert analysis.camera == Camera(make="Canon", model="Canon EOS 5D")


# ---- alpha and animation -------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_an_animation_says_so_and_its_first_frame_is_analysed(fmt: str) -> None:
    data = images.animated(fmt, 40, 30, (RED, GREEN, BLUE), (100, 100, 100))

    analysis = analysed(data)

    assert (analysis.animated, analysis.frames) == (True, 3)
    assert analysis.palette is not None
    assert images.near(rgb(analysis.palette[0].color), RED, 16)
    assert analysis.palette[0].share == pytest.approx(1.0, abs=0.02)


def test_a_still_photograph_has_no_alpha_and_one_frame_and_an_rgba_png_has_alpha() -> None:
    photograph = analysed(images.photograph())
    logo = analysed(images.SAMPLES.joinpath("logo.png").read_bytes())
    opaque_rgba = analysed(images.png_rgba(20, 20, WHITE, alpha=255))

    assert (photograph.has_alpha, photograph.animated, photograph.frames) == (False, False, 1)
    assert (logo.has_alpha, logo.animated, logo.frames) == (True, False, 1)
    assert opaque_rgba.has_alpha  # the channel, even when every pixel is opaque


# ---- the request and the document's size ---------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        (None, None),
        (False, None),
        (True, AnalysisRequest()),
        ({}, AnalysisRequest()),
        ({"gps": True}, AnalysisRequest(gps=True)),
    ],
)
def test_analysis_is_asked_for_with_true_or_an_object_and_stored_as_its_options(
    given: object, stored: AnalysisRequest | None
) -> None:
    body: dict[str, object] = {"source": {"upload_id": "upl_01JD4W3ZP8Q6S2KX7Y0M9N5B1C"}, "preset": "og-image"}
    if given is not None:
        body["analysis"] = given
    request = JobRequest.model_validate(body)
    assert StoredRequest.model_validate(request.model_dump() | {"outputs": []}).analysis == stored


@pytest.mark.parametrize("given", [{"gps": "maybe"}, {"palette": False}, "please", 2])
def test_analysis_refuses_what_it_does_not_know(given: object) -> None:
    with pytest.raises(ValueError, match="analysis"):
        JobRequest.model_validate({"source": {"upload_id": "upl_01JD4W3ZP8Q6S2KX7Y0M9N5B1C"}, "analysis": given})


def test_the_largest_analysis_stays_small_in_the_events() -> None:
    # GIVEN an analysis with every field at its longest
    largest = Analysis(
        palette=[PaletteColour(color="#abcdef", share=0.123) for _ in range(6)],
        blurhash="x" * 28,  # 4x3 components
        thumbhash="z" * 36,  # 25 bytes at most
        has_alpha=True,
        animated=True,
        frames=500,
        camera=Camera(make="m" * exif.TEXT_MAX, model="n" * exif.TEXT_MAX),
        captured_at="2024-05-01T14:03:22+02:00",
        gps=GpsPosition(latitude=-33.865143, longitude=-151.209900, altitude=-12345.6),
        notes=["exif: unreadable (" + "e" * 100 + ")", "pixels: the thumbnail could not be made (" + "v" * 120 + ")"],
    )

    # THEN it adds at most 1.5 KB to the job's record, events and callbacks (of 400 KB and 256 KB)
    assert len(largest.model_dump_json(exclude_none=True)) <= 1536
