"""Jobs with a preset instead of outputs: expanded on create, rendered like any outputs, and the
responsive preset's ready srcset."""

from __future__ import annotations

import io
import re
import struct

import pytest
import requests
from PIL import Image

from devstack.stack import Stack
from imagejobs.spec import presets
from tests import images
from tests.functional.conftest import Client, drain, upload

THUMB = {"name": "thumb", "format": "webp", "operations": [{"type": "resize", "width": 40}]}


def run_preset(api: Client, stack: Stack, data: bytes, preset: str, content_type: str = "image/jpeg") -> dict:
    created = api.post("/jobs", {"source": {"upload_id": upload(api, data, content_type)}, "preset": preset})
    assert created.status_code == 202, created.text
    drain(stack)
    job = api.get(f"/jobs/{created.json()['id']}").json()
    assert job["status"] == "succeeded", job
    return job


def download(output: dict) -> Image.Image:
    body = requests.get(output["url"], timeout=10).content
    assert len(body) == output["bytes"]
    return Image.open(io.BytesIO(body))


def test_a_preset_job_renders_the_platforms_size(api: Client, stack: Stack) -> None:
    job = run_preset(api, stack, images.jpeg(2000, 1500, images.GREEN), "instagram-feed")

    [post] = job["outputs"]
    assert (post["name"], post["format"], post["width"], post["height"]) == ("post", "jpeg", 1080, 1350)
    picture = download(post)
    assert (picture.format, picture.size) == ("JPEG", (1080, 1350))
    r, g, b = picture.convert("RGB").getpixel((540, 675))
    assert g > 200 and r < 60 and b < 60
    assert job["srcset"] is None


def test_responsive_gives_a_ready_srcset_per_format_capped_at_the_sources_width(api: Client, stack: Stack) -> None:
    # GIVEN a source narrower than the top rungs of the ladder
    job = run_preset(api, stack, images.jpeg(1000, 600, images.BLUE), "responsive")

    # THEN every rung exists, none wider than the source
    outputs = {output["name"]: output for output in job["outputs"]}
    assert set(outputs) == {f"{fmt}-{w}" for fmt in presets.RESPONSIVE_FORMATS for w in presets.RESPONSIVE_WIDTHS}
    assert [outputs[f"webp-{w}"]["width"] for w in presets.RESPONSIVE_WIDTHS] == [320, 640, 960, 1000, 1000]

    # AND each format's srcset lists each width once, narrowest first, with the outputs' stable links
    assert set(job["srcset"]) == set(presets.RESPONSIVE_FORMATS)
    for fmt, srcset in job["srcset"].items():
        candidates = [candidate.rsplit(" ", 1) for candidate in srcset.split(", ")]
        assert [descriptor for _, descriptor in candidates] == ["320w", "640w", "960w", "1000w"]
        assert [url for url, _ in candidates[:3]] == [outputs[f"{fmt}-{w}"]["link"] for w in (320, 640, 960)]
        assert all(url.startswith(f"{stack.api_url}/o/") for url, _ in candidates)
        assert all(not re.search(r"\s", url) for url, _ in candidates)
        url, _ = candidates[1]
        picture = Image.open(io.BytesIO(requests.get(url, timeout=10).content))  # no key: as a browser would
        assert (picture.format.lower(), picture.size) == (fmt, (640, 384))


def test_favicon_gives_an_ico_and_pngs(api: Client, stack: Stack) -> None:
    job = run_preset(api, stack, images.png_rgba(256, 256, images.RED, alpha=255), "favicon", "image/png")

    outputs = {output["name"]: output for output in job["outputs"]}
    ico = requests.get(outputs["favicon"]["url"], timeout=10).content
    assert struct.unpack("<HHH", ico[:6]) == (0, 1, len(presets.FAVICON_SIZES))
    assert (outputs["favicon"]["format"], outputs["apple-touch-icon"]["format"]) == ("ico", "png")
    assert download(outputs["icon-512"]).size == (512, 512)


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"preset": "instagram-feed", "outputs": [THUMB]}, "preset"),
        ({"preset": "instagram-feed", "outputs": []}, "preset"),
        ({}, "outputs"),
        ({"outputs": []}, "outputs"),
        ({"preset": "myspace"}, "preset"),
        ({"preset": None}, "outputs"),
    ],
    ids=["both", "both-empty-outputs", "neither", "empty-outputs", "unknown", "null"],
)
def test_a_job_needs_exactly_one_of_outputs_or_a_known_preset(api: Client, body: dict, path: str) -> None:
    response = api.post("/jobs", {"source": {"upload_id": "upl_01M7YA9N5BT8MD9QV08S0WDDEP"}, **body})

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert [detail["path"] for detail in error["details"]] == [path]
    assert path in error["message"]
