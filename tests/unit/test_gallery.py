"""docs/operations.md and its pictures are what the engine makes now (scripts/gallery.py, `make
gallery`), show every operation, filter and preset of the catalogue, and stay small."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import get_args

import pytest
import pyvips

from devstack.template import ROOT
from imagejobs.spec import presets
from imagejobs.spec.operations import OPERATION_TYPES, FilterName

DOCS = ROOT / "docs"
PAGE = (DOCS / "operations.md").read_text()


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gallery")
    made = subprocess.run(
        [sys.executable, "scripts/gallery.py", "--out", str(out)], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert made.returncode == 0, made.stderr
    return out


def section(title: str) -> str:
    found = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", PAGE, re.M | re.S)
    assert found is not None, f"no section {title}"
    return found.group(1)


def test_the_committed_page_is_the_one_the_engine_makes_now(regenerated: Path) -> None:
    assert (regenerated / "operations.md").read_text() == PAGE, "docs/operations.md is stale: run `make gallery`"


def test_every_committed_picture_is_the_engines_and_none_is_left_over(regenerated: Path) -> None:
    made = sorted(path.name for path in (regenerated / "gallery").glob("*.webp"))
    assert sorted(path.name for path in (DOCS / "gallery").glob("*.webp")) == made
    for name in made:
        committed = pyvips.Image.new_from_file(str(DOCS / "gallery" / name))
        fresh = pyvips.Image.new_from_file(str(regenerated / "gallery" / name))
        assert (committed.width, committed.height, committed.bands) == (fresh.width, fresh.height, fresh.bands), name
        # the same pixels, give or take an encoder's rounding on another machine
        assert (committed.cast("int") - fresh.cast("int")).abs().avg() < 1.5, f"{name} is stale: run `make gallery`"


def test_every_picture_the_page_shows_is_committed() -> None:
    shown = re.findall(r"\]\(((?:gallery/|\.\./)[^)]+)\)", PAGE)
    assert len(shown) > 60
    for link in shown:
        assert (DOCS / link).is_file(), link


def test_every_operation_filter_and_preset_of_the_catalogue_is_shown() -> None:
    for operation in OPERATION_TYPES:
        assert f'"type": "{operation}"' in section(operation), operation
    for name in get_args(FilterName):
        assert f'"name": "{name}"' in section("filter"), name
    for name in presets.NAMES:
        assert re.search(rf"^\| `{name}` \| .*\]\(gallery/preset-{name}\.webp\)", section("Presets"), re.M), name


def test_the_pictures_stay_small() -> None:
    total = sum(path.stat().st_size for path in (DOCS / "gallery").iterdir())
    assert total < 1024 * 1024, f"docs/gallery holds {total // 1024} KB"
