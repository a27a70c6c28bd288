"""Issue 3 through the local stack, over HTTP: every output format, a PDF page, the responsive preset."""

from __future__ import annotations

import io

import pillow_heif
import pymupdf
import pytest
import requests
from PIL import Image

from tests import images
from tests.e2e.conftest import ROOT, LocalStack, wait_for_job

SAMPLES = ROOT / "samples"
MAGIC = {
    "jpeg": lambda b: b[:3] == b"\xff\xd8\xff",
    "png": lambda b: b[:8] == b"\x89PNG\r\n\x1a\n",
    "webp": lambda b: b[:4] == b"RIFF" and b[8:12] == b"WEBP",
    "avif": lambda b: b[4:12] == b"ftypavif",
    "heic": lambda b: b[4:8] == b"ftyp" and b[8:12] in (b"heic", b"mif1", b"heix"),
    "jxl": lambda b: b[:2] == b"\xff\x0a",
    "tiff": lambda b: b[:4] in (b"II*\x00", b"MM\x00*"),
    "gif": lambda b: b[:6] in (b"GIF87a", b"GIF89a"),
    "bmp": lambda b: b[:2] == b"BM",
    "ico": lambda b: b[:4] == b"\x00\x00\x01\x00",
    "pdf": lambda b: b[:5] == b"%PDF-",
}


def run_job(stack: LocalStack, data: bytes, content_type: str, filename: str, **job: object) -> dict:
    created = requests.post(
        f"{stack.api_url}/jobs",
        json={"source": {"upload": {"filename": filename, "content_type": content_type}}, **job},
        headers=stack.headers(),
        timeout=10,
    )
    assert created.status_code == 202, created.text
    form = created.json()["upload"]
    sent = requests.post(form["url"], data=form["fields"], files={"file": (filename, data, content_type)}, timeout=30)
    assert sent.status_code == 204
    return wait_for_job(stack, created.json()["id"], timeout=120)


def size_of(fmt: str, body: bytes) -> tuple[int, int]:
    if fmt == "pdf":
        page = pymupdf.open(stream=body, filetype="pdf")[0]
        return round(page.rect.width), round(page.rect.height)
    if fmt == "heic":
        return pillow_heif.open_heif(body).size
    if fmt == "jxl":
        import pillow_jxl  # noqa: F401, PLC0415 - registers Pillow's JXL plugin
    return Image.open(io.BytesIO(body)).size


@pytest.mark.parametrize(
    "group", [("jpeg", "png", "webp", "avif", "heic", "jxl"), ("tiff", "gif", "bmp", "pdf", "ico", "auto")]
)
def test_every_output_format_comes_out_of_the_stack(local_stack: LocalStack, group: tuple[str, ...]) -> None:
    resize = [{"type": "resize", "width": 64, "height": 48}]
    outputs = [
        {"name": "ico", "format": "ico", "sizes": [16, 32]}
        if fmt == "ico"
        else {"name": fmt, "format": fmt, "operations": resize}
        for fmt in group
    ]

    job = run_job(local_stack, (SAMPLES / "photo.jpg").read_bytes(), "image/jpeg", "photo.jpg", outputs=outputs)

    assert job["status"] == "succeeded", job.get("error")
    assert [o["name"] for o in job["outputs"]] == list(group)
    for output in job["outputs"]:
        body = requests.get(output["url"], timeout=10).content
        assert MAGIC[output["format"]](body), output["name"]
        assert output["bytes"] == len(body)
        if output["format"] not in ("ico", "pdf"):
            assert size_of(output["format"], body) == (64, 48), output["name"]
    if "auto" in group:
        assert job["outputs"][-1]["format"] in ("avif", "webp", "jpeg")


def test_the_second_pdf_page_at_144_dpi(local_stack: LocalStack) -> None:
    document = images.pdf((200, 100, images.RED), (144, 72, images.BLUE), (100, 100, images.GREEN))
    created = requests.post(
        f"{local_stack.api_url}/jobs",
        json={
            "source": {
                "upload": {"filename": "report.pdf", "content_type": "application/pdf"},
                "pages": "2",
                "dpi": 144,
            },
            "outputs": [{"name": "page", "format": "png"}],
        },
        headers=local_stack.headers(),
        timeout=10,
    ).json()
    form = created["upload"]
    requests.post(
        form["url"], data=form["fields"], files={"file": ("report.pdf", document, "application/pdf")}, timeout=10
    )

    job = wait_for_job(local_stack, created["id"])

    assert job["status"] == "succeeded", job.get("error")
    assert job["source"]["format"] == "pdf"
    (page,) = job["outputs"]
    body = requests.get(page["url"], timeout=10).content
    picture = Image.open(io.BytesIO(body))
    assert picture.size == (288, 144)  # 144 x 72 points at 144 dpi
    assert images.near(picture.convert("RGB").getpixel((144, 72)), images.BLUE)


def test_the_responsive_preset_gives_a_ladder_in_avif_and_webp_with_a_srcset(local_stack: LocalStack) -> None:
    job = run_job(local_stack, (SAMPLES / "photo.jpg").read_bytes(), "image/jpeg", "photo.jpg", preset="responsive")

    assert job["status"] == "succeeded", job.get("error")
    widths = {(o["format"], o["width"]) for o in job["outputs"]}
    assert {(fmt, w) for fmt in ("avif", "webp") for w in (320, 640, 960, 1280)} <= widths
    assert ("webp", 1600) in widths  # the 1920 rung stops at the source's own width
    for fmt in ("avif", "webp"):
        entries = [entry.rsplit(" ", 1) for entry in job["srcset"][fmt].split(", ")]
        assert [w for _, w in entries] == ["320w", "640w", "960w", "1280w", "1600w"]
        first = requests.get(entries[0][0], timeout=10).content
        assert MAGIC[fmt](first)
        assert size_of(fmt, first)[0] == 320
