"""Presets: their expansion into ordinary outputs, the pixels they make, and the responsive srcset."""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

import pytest
from PIL import Image
from pydantic import ValidationError

from imagejobs import engine
from imagejobs.deadline import Deadline
from imagejobs.spec import presets
from imagejobs.spec.formats import OUTPUTS
from imagejobs.spec.requests import JobRequest
from tests import images

LIMITS = engine.Limits(max_source_pixels=100_000_000, max_output_dimension=16384)
SOCIAL = {
    "instagram-feed": (1080, 1350),
    "instagram-story": (1080, 1920),
    "twitter-post": (1600, 900),
    "linkedin-post": (1200, 627),
    "youtube-thumbnail": (1280, 720),
    "pinterest-pin": (1000, 1500),
    "og-image": (1200, 630),
}


def render(name: str, data: bytes) -> dict[str, engine.Rendered]:
    _, rendered = engine.render(data, presets.expand(name), LIMITS, Deadline.unlimited())
    return {output.name: output for output in rendered}


@pytest.mark.parametrize("name", list(presets.PRESETS))
def test_every_preset_expands_into_valid_outputs_with_unique_names(name: str) -> None:

    outputs = presets.expand(name)

    assert presets.PRESETS[name].formats <= OUTPUTS.keys()
    assert 1 <= len(outputs) <= 10
    assert len({output.name for output in outputs}) == len(outputs)


def test_the_spec_presets_are_all_defined() -> None:
    assert set(presets.PRESETS) == {*SOCIAL, "favicon", "responsive"}


@pytest.mark.parametrize(("name", "size"), SOCIAL.items())
def test_a_social_preset_makes_a_jpeg_of_the_platforms_size(name: str, size: tuple[int, int]) -> None:
    [output] = render(name, images.jpeg(2000, 1600, images.GREEN)).values()

    assert (output.format, output.width, output.height) == ("jpeg", *size)
    picture = Image.open(io.BytesIO(output.data))
    assert (picture.format, picture.size) == ("JPEG", size)
    r, g, b = picture.convert("RGB").getpixel((size[0] // 2, size[1] // 2))
    assert g > 200 and r < 60 and b < 60


def test_responsive_caps_the_ladder_at_the_sources_width_in_avif_and_webp() -> None:
    rendered = render("responsive", images.jpeg(1000, 500, images.BLUE))

    for fmt in presets.RESPONSIVE_FORMATS:
        widths = [rendered[f"{fmt}-{width}"].width for width in presets.RESPONSIVE_WIDTHS]
        assert widths == [320, 640, 960, 1000, 1000]
        assert rendered[f"{fmt}-640"].height == 320
        picture = Image.open(io.BytesIO(rendered[f"{fmt}-960"].data))
        assert (picture.format.lower(), picture.size) == (fmt, (960, 480))
        r, g, b = picture.convert("RGB").getpixel((480, 240))
        assert b > 200 and r < 60 and g < 60


def test_favicon_makes_a_three_size_ico_and_opaque_pngs() -> None:
    rendered = render("favicon", images.png_rgba(300, 200, images.RED, alpha=0))

    ico = rendered["favicon"].data
    reserved, kind, count = struct.unpack("<HHH", ico[:6])
    assert (reserved, kind) == (0, 1)
    assert sorted(ico[6 + 16 * i] for i in range(count)) == list(presets.FAVICON_SIZES)
    for name, side in (("apple-touch-icon", 180), ("icon-192", 192), ("icon-512", 512)):
        picture = Image.open(io.BytesIO(rendered[name].data))
        assert (picture.format, picture.size) == ("PNG", (side, side))
    touch = Image.open(io.BytesIO(rendered["apple-touch-icon"].data)).convert("RGBA")
    assert touch.getpixel((90, 90)) == (255, 255, 255, 255)  # transparency flattened onto white
    assert Image.open(io.BytesIO(rendered["icon-192"].data)).convert("RGBA").getpixel((96, 96))[3] == 0


@dataclass
class Link:
    format: str
    width: int
    link: str
    cdn_url: str | None = None


def test_srcset_lists_each_width_once_narrowest_first_per_format() -> None:
    outputs = [
        Link("webp", 640, "https://s3/w640"),
        Link("avif", 320, "https://s3/a320"),
        Link("webp", 320, "https://s3/w320"),
        Link("webp", 700, "https://s3/w1280"),
        Link("webp", 700, "https://s3/w1920"),  # both capped at the source's 700 px
    ]

    srcset = presets.srcset("responsive", outputs)

    assert srcset == {
        "webp": "https://s3/w320 320w, https://s3/w640 640w, https://s3/w1280 700w",
        "avif": "https://s3/a320 320w",
    }


def test_srcset_takes_the_cdn_addresses_where_there_is_a_cdn() -> None:
    outputs = [Link("webp", 320, "https://api/o/a", "https://cdn/a.webp"), Link("webp", 640, "https://api/o/b", None)]

    assert presets.srcset("responsive", outputs) == {"webp": "https://cdn/a.webp 320w, https://api/o/b 640w"}


@pytest.mark.parametrize(("preset", "outputs"), [(None, [Link("webp", 1, "u")]), ("og-image", []), ("responsive", [])])
def test_there_is_no_srcset_without_a_ladder_preset_or_before_its_outputs(preset: str | None, outputs: list) -> None:
    assert presets.srcset(preset, outputs) is None


def test_a_job_request_names_an_unknown_preset() -> None:
    with pytest.raises(ValidationError) as raised:
        JobRequest.model_validate({"source": {"upload_id": "upl_01M7YA9N5BT8MD9QV08S0WDDEP"}, "preset": "myspace"})

    [error] = raised.value.errors()
    assert error["loc"] == ("preset",)
    assert "instagram-feed" in error["msg"]
