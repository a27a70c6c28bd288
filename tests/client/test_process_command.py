"""`imagejobs process`: the engine of the server package on local files, through the client's command."""

from __future__ import annotations

import json
import os
import subprocess

from PIL import Image

from tests.client.conftest import IMAGEJOBS
from tests.e2e.conftest import ROOT


def test_process_runs_the_engine_when_the_server_package_is_importable(tmp_path) -> None:
    # GIVEN the server package on the path (as `pip install .` puts it)
    environment = {**os.environ, "PYTHONPATH": str(ROOT / "layers" / "common")}

    # WHEN `imagejobs process` renders a preset from stdin
    result = subprocess.run(
        [str(IMAGEJOBS), "process", str(ROOT / "samples" / "photo.heic"), "--output-spec", "-", "-o", str(tmp_path)],
        input='{"preset": "og-image"}',
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    # THEN it wrote the engine's report and a 1200x630 JPEG
    assert result.returncode == 0, result.stderr
    [output] = json.loads(result.stdout)["outputs"]
    assert output["path"] == str(tmp_path / "og-image.jpg")
    with Image.open(tmp_path / "og-image.jpg") as image:
        assert (image.format, image.size) == ("JPEG", (1200, 630))


def test_process_help_and_errors_name_the_imagejobs_command() -> None:
    environment = {**os.environ, "PYTHONPATH": str(ROOT / "layers" / "common")}

    result = subprocess.run(
        [str(IMAGEJOBS), "process", "--help"], env=environment, capture_output=True, text=True, timeout=60, check=False
    )

    assert result.returncode == 0
    assert result.stdout.startswith("usage: imagejobs process ")


def test_process_without_the_server_package_says_how_to_install_it(tmp_path) -> None:
    # GIVEN a path where `imagejobs` (the server package) is not importable
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}

    result = subprocess.run(
        [str(IMAGEJOBS), "process", "photo.jpg", "--output-spec", "-"],
        env=environment,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 2
    assert "pip install ./clients/python ." in result.stderr
    assert "No module named 'imagejobs'" in result.stderr
