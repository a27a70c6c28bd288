"""`python -m imagejobs process`: real images through the engine, in-process and as a subprocess."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from devstack.template import ROOT, Template
from imagejobs import cli
from tests import images

THUMB = {"name": "thumb", "format": "webp", "operations": [{"type": "resize", "width": 40, "height": 30}]}
LOGO_ID = "upl_01M7YA9N5BT8MD9QV08S0WDDEP"


def files(tmp_path: Path, source: bytes, spec: Any, name: str = "photo.jpg") -> tuple[Path, Path]:
    (tmp_path / name).write_bytes(source)
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    return tmp_path / name, tmp_path / "spec.json"


def run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, Any]:
    """main() in-process: (exit status, the JSON it printed on stdout or, on failure, stderr)."""
    status = cli.main([str(arg) for arg in args])
    out, err = capsys.readouterr()
    return status, json.loads(out if status == 0 else err)


def test_the_default_limits_are_the_templates() -> None:
    parameters = Template.read("imagejobs-test").parameters

    assert int(parameters["MaxSourcePixels"]) == cli.MAX_SOURCE_PIXELS
    assert int(parameters["MaxOutputDimension"]) == cli.MAX_OUTPUT_DIMENSION


def test_one_output_is_rendered_written_and_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source, spec = files(tmp_path, images.jpeg(400, 300, images.GREEN), THUMB)

    status, report = run(capsys, "process", source, "--output-spec", spec, "-o", tmp_path / "out")

    assert status == 0
    assert report["source"] == {
        "path": str(source),
        "bytes": source.stat().st_size,
        "format": "jpeg",
        "width": 400,
        "height": 300,
    }
    [output] = report["outputs"]
    path = tmp_path / "out" / "thumb.webp"
    assert output == {
        "name": "thumb",
        "format": "webp",
        "width": 40,
        "height": 30,
        "bytes": path.stat().st_size,
        "path": str(path),
    }
    assert report["milliseconds"] >= 0
    picture = Image.open(path)
    assert (picture.format, picture.size) == ("WEBP", (40, 30))
    r, g, b = picture.convert("RGB").getpixel((20, 15))
    assert g > 200 and r < 60 and b < 60


def test_a_list_of_outputs_and_a_preset_are_specs_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source, spec = files(tmp_path, images.heic(1600, 1200), [THUMB, {"name": "full", "format": "png"}])
    status, report = run(capsys, "process", source, "--output-spec", spec, "-o", tmp_path)
    assert status == 0
    assert [(o["name"], o["width"], o["height"]) for o in report["outputs"]] == [
        ("thumb", 40, 30),
        ("full", 1600, 1200),
    ]

    spec.write_text(json.dumps({"preset": "og-image"}))
    status, report = run(capsys, "process", source, "--output-spec", spec, "-o", tmp_path)
    assert status == 0
    [output] = report["outputs"]
    assert Image.open(output["path"]).size == (1200, 630)


@pytest.mark.parametrize(
    ("spec", "path"),
    [
        ({"name": "a", "format": "webp", "operations": [{"type": "resize", "width": -5}]}, "operations[0].width"),
        ([THUMB, {"name": "b", "format": "bmp2"}], "[1].format"),
        ([THUMB, THUMB], "name"),
        ({"preset": "myspace"}, "preset"),
        ({"preset": "og-image", "outputs": [THUMB]}, "preset"),
        ({**THUMB, "destination": {"bucket": "media", "key": "{name}.{ext}"}}, "destination"),
    ],
)
def test_a_bad_spec_exits_2_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], spec: Any, path: str
) -> None:
    source, spec_file = files(tmp_path, images.jpeg(8, 8), spec)

    status, error = run(capsys, "process", source, "--output-spec", spec_file)

    assert status == 2
    assert error["error"]["code"] == "invalid_request"
    assert path in [detail["path"] for detail in error["error"]["details"]]
    assert not list(tmp_path.glob("*.webp"))


def test_a_spec_that_is_not_json_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source, spec = files(tmp_path, images.jpeg(8, 8), THUMB)
    spec.write_text("{not json")

    status, error = run(capsys, "process", source, "--output-spec", spec)

    assert (status, error["error"]["code"]) == (2, "malformed_request")


@pytest.mark.parametrize(
    ("source", "args", "code"),
    [
        (images.jpeg(64, 64)[:200], [], "corrupt_image"),
        (b"not an image at all" * 10, [], "unsupported_format"),
        (images.jpeg(64, 64), ["--max-pixels", "1000"], "too_many_pixels"),
    ],
    ids=["truncated", "text", "over-the-pixel-limit"],
)
def test_an_image_that_cannot_be_processed_exits_1_with_the_jobs_error_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], source: bytes, args: list[str], code: str
) -> None:
    source_file, spec = files(tmp_path, source, THUMB)

    status, error = run(capsys, "process", source_file, "--output-spec", spec, *args)

    assert (status, error["error"]["code"]) == (1, code)


@pytest.mark.parametrize(
    ("source", "args", "code"),
    [
        (images.nested_svg(1000), [], "too_large"),
        (images.svg_embedding(images.png_claiming(20_000, 20_000)), [], "too_many_pixels"),
        (images.png_claiming(9000, 9000), ["--max-memory", "256"], "too_many_pixels"),
        (images.pdf(*[(72, 72, images.RED)] * 20), ["--pages", "1-", "--max-work-units", "1000000"], "too_large"),
    ],
    ids=["nested-svg", "svg-embedding-a-bomb", "over-the-memory", "over-the-work-units"],
)
def test_a_hostile_image_exits_1_with_its_code_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], source: bytes, args: list[str], code: str
) -> None:
    source_file, spec = files(tmp_path, source, THUMB, name="hostile")

    status, error = run(capsys, "process", source_file, "--output-spec", spec, *args)

    assert (status, error["error"]["code"]) == (1, code)


def test_an_unexpected_failure_is_the_error_body_with_code_internal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object, **__: object) -> None:
        raise KeyError("a bug")

    monkeypatch.setattr(cli.engine, "render", broken)
    source, spec = files(tmp_path, images.jpeg(8, 8), THUMB)

    status, error = run(capsys, "process", source, "--output-spec", spec)

    assert (status, error["error"]["code"]) == (1, "internal")
    assert "KeyError" in error["error"]["message"]


def test_an_output_folder_that_cannot_be_made_exits_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, spec = files(tmp_path, images.jpeg(8, 8), THUMB)

    status, error = run(capsys, "process", source, "--output-spec", spec, "-o", source)  # a file, not a folder

    assert (status, error["error"]["code"]) == (2, "invalid_request")
    assert error["error"]["details"][0]["path"] == "--out"


def test_a_watermark_reads_the_image_given_with_upload(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "logo.png").write_bytes(images.png(20, 20, images.BLUE))
    mark = {"type": "watermark", "upload_id": LOGO_ID, "gravity": "southeast"}
    source, spec = files(
        tmp_path, images.png(100, 80, images.RED), {"name": "marked", "format": "png", "operations": [mark]}
    )

    status, report = run(
        capsys,
        "process",
        source,
        "--output-spec",
        spec,
        "-o",
        tmp_path,
        "--upload",
        f"{LOGO_ID}={tmp_path / 'logo.png'}",
    )
    assert status == 0
    picture = Image.open(report["outputs"][0]["path"]).convert("RGB")
    assert picture.getpixel((95, 75)) == images.BLUE
    assert picture.getpixel((10, 10)) == images.RED

    status, error = run(capsys, "process", source, "--output-spec", spec)
    assert (status, error["error"]["code"]) == (1, "source_not_found")
    assert f"--upload {LOGO_ID}=PATH" in error["error"]["message"]

    status, error = run(capsys, "process", source, "--output-spec", spec, "--upload", "logo.png")
    assert (status, error["error"]["details"][0]["path"]) == (2, "--upload")


def test_pages_of_a_multipage_source_give_an_output_each(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tiff = images.multipage_tiff((40, 30, images.RED), (40, 30, images.GREEN), (40, 30, images.BLUE))
    source, spec = files(tmp_path, tiff, {"name": "page", "format": "png"}, name="scan.tiff")

    status, report = run(capsys, "process", source, "--output-spec", spec, "-o", tmp_path, "--pages", "2-")

    assert status == 0
    assert [output["name"] for output in report["outputs"]] == ["page-p2", "page-p3"]
    assert Image.open(tmp_path / "page-p3.png").convert("RGB").getpixel((20, 15)) == images.BLUE


def python_m_imagejobs(*args: object, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "layers" / "common")}
    command = [sys.executable, "-m", "imagejobs", *map(str, args)]
    return subprocess.run(command, input=stdin, capture_output=True, env=env, check=False, timeout=120)


def test_python_m_imagejobs_processes_a_file_with_the_spec_on_stdin(tmp_path: Path) -> None:
    source, _ = files(tmp_path, images.halves(300, 100, images.RED, images.BLUE), THUMB)
    spec = {
        "name": "left",
        "format": "jpeg",
        "operations": [{"type": "crop", "width": 100, "height": 100, "x": 0, "y": 0}],
    }

    done = python_m_imagejobs(
        "process", source, "--output-spec", "-", "-o", tmp_path / "out", stdin=json.dumps(spec).encode()
    )

    assert done.returncode == 0, done.stderr
    [output] = json.loads(done.stdout)["outputs"]
    picture = Image.open(io.BytesIO((tmp_path / "out" / "left.jpg").read_bytes()))
    assert (output["path"], picture.format, picture.size) == (str(tmp_path / "out" / "left.jpg"), "JPEG", (100, 100))
    r, g, b = picture.convert("RGB").getpixel((50, 50))
    assert r > 200 and g < 60 and b < 60


def test_python_m_imagejobs_exits_1_with_the_error_on_stderr(tmp_path: Path) -> None:
    source, spec = files(tmp_path, images.jpeg(64, 64)[:200], THUMB)

    done = python_m_imagejobs("process", source, "--output-spec", spec, "-o", tmp_path)

    assert done.returncode == 1
    assert done.stdout == b""
    assert json.loads(done.stderr)["error"]["code"] == "corrupt_image"


def test_python_m_imagejobs_without_a_spec_is_a_usage_error() -> None:
    done = python_m_imagejobs("process", "photo.jpg")

    assert done.returncode == 2
    error = json.loads(done.stderr)["error"]
    assert error["code"] == "invalid_request" and "--output-spec" in error["message"]


def test_python_m_imagejobs_prints_the_error_body_not_a_traceback_for_a_hostile_svg(tmp_path: Path) -> None:
    source, spec = files(tmp_path, images.nested_svg(100_000), THUMB, name="deep.svg")

    done = python_m_imagejobs("process", source, "--output-spec", spec, "-o", tmp_path)

    assert done.returncode == 1
    assert b"Traceback" not in done.stderr
    assert json.loads(done.stderr)["error"]["code"] == "too_large"
