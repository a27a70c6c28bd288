"""Prefix batches on the local stack, as a user makes them: the README's blocks pasted, and 2,000
small images under one prefix of local-media becoming exactly 2,000 outputs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from pathlib import Path

import pytest
import requests
from PIL import Image

from tests import images
from tests.e2e.conftest import LocalStack
from tests.e2e.test_buckets import SAMPLES, local_s3, opened, readme_block

SCALE = 2000


def keys_under(s3: object, prefix: str) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket="local-media", Prefix=prefix)  # type: ignore[attr-defined]
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


@pytest.mark.skipif(shutil.which("aws") is None, reason="the README's prefix batch block uses the AWS CLI")
def test_the_readme_prefix_batch_block_works_pasted_as_written(local_stack: LocalStack, tmp_path: Path) -> None:
    # GIVEN the README's block, run by bash in a folder with the samples, the AWS CLI on PATH
    (tmp_path / "samples").symlink_to(SAMPLES)

    # WHEN it runs against the stack
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", readme_block("prefix-batch", "sh")],
        check=False,
        cwd=tmp_path,
        env={
            "PATH": os.environ["PATH"],
            "HOME": str(tmp_path),
            "IMAGEJOBS_PORT": str(local_stack.port),
            "IMAGEJOBS_AWS_PORT": str(local_stack.aws_port),
            "IMAGEJOBS_API_KEY": local_stack.api_key,
        },
        capture_output=True,
        text=True,
        timeout=180,
    )

    # THEN it printed what the README says: three jobs succeeded, and their thumbnails
    assert result.returncode == 0, result.stderr + result.stdout
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert "listed 3 0" in lines, lines
    listed = sorted(line.split()[-1] for line in lines[lines.index("listed 3 0") + 1 :])
    assert listed == ["logo.png.webp", "photo.heic.webp", "photo.jpg.webp"]
    content_type, thumb = opened(local_s3(local_stack), "thumbs/catalogue/photo.jpg.webp")
    assert (content_type, thumb.format, thumb.width) == ("image/webp", "WEBP", 400)


def test_the_readme_prefix_batch_python_block_works(local_stack: LocalStack, tmp_path: Path) -> None:
    # GIVEN the samples under catalogue/ (the shell block's first step) and a file that is not an image
    s3 = local_s3(local_stack)
    for sample in ("logo.png", "photo.heic", "photo.jpg"):
        s3.put_object(Bucket="local-media", Key=f"python/{sample}", Body=(SAMPLES / sample).read_bytes())  # type: ignore[attr-defined]
    s3.put_object(Bucket="local-media", Key="python/broken.jpg", Body=b"not an image")  # type: ignore[attr-defined]
    script = readme_block("prefix-batch-python", "python").replace('"catalogue/"', '"python/"')

    # WHEN it runs with the client configured as the README says (the stack's URL and key)
    result = subprocess.run(
        [sys.executable, "-c", script],
        check=False,
        cwd=tmp_path,
        env={**os.environ, "IMAGEJOBS_URL": local_stack.api_url, "IMAGEJOBS_API_KEY": local_stack.api_key},
        capture_output=True,
        text=True,
        timeout=180,
    )

    # THEN three succeeded, the broken one is named with its code, and its retry left it failed again
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["listed 3 1", "python/broken.jpg unsupported_format"]
    content_type, small = opened(s3, "small/python/logo.png.png")
    assert (content_type, small.width) == ("image/png", 64)


def test_two_thousand_images_under_a_prefix_become_exactly_two_thousand_outputs(local_stack: LocalStack) -> None:
    # GIVEN 2,000 small real images (JPEG and PNG, each its own colour) under one prefix of local-media
    s3 = local_s3(local_stack)
    prefix, out = "scale/in/", "scale/out/"

    def put(index: int) -> None:
        color = (index % 256, index // 256 % 256, 90)
        body, ext = (images.jpeg(12, 8, color), "jpg") if index % 2 else (images.png(12, 8, color), "png")
        s3.put_object(Bucket="local-media", Key=f"{prefix}{index:05}.{ext}", Body=body)  # type: ignore[attr-defined]

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, range(SCALE)))

    # WHEN one prefix batch makes a 4 px wide PNG of each, under another prefix
    body = {
        "source": {"s3_prefix": {"bucket": "local-media", "prefix": prefix}},
        "outputs": [
            {
                "name": "tiny",
                "format": "png",
                "operations": [{"type": "resize", "width": 4}],
                "destination": {"bucket": "local-media", "key": f"{out}{{source_stem}}.{{ext}}"},
            }
        ],
    }
    created = requests.post(f"{local_stack.api_url}/batches", json=body, headers=local_stack.headers(), timeout=30)
    assert created.status_code == 202, created.text
    batch_id = created.json()["batch_id"]
    deadline = time.monotonic() + 1500
    seen = []
    while True:
        batch = requests.get(
            f"{local_stack.api_url}/batches/{batch_id}", params={"wait": 20}, headers=local_stack.headers(), timeout=30
        ).json()
        seen.append(batch["counts"])
        if batch["status"] == "completed":
            break
        assert time.monotonic() < deadline, batch

    # THEN it completed with every count matching, and exactly one output per image
    assert batch["listing"] == {"status": "listed", "pages": 2, "error": None}
    assert batch["counts"] == {
        "total": SCALE,
        "listed": SCALE,
        "awaiting_upload": 0,
        "queued": 0,
        "processing": 0,
        "succeeded": SCALE,
        "failed": 0,
    }
    for before, after in pairwise(seen):  # the totals only ever grew while it ran
        assert after["listed"] >= before["listed"]
        assert after["succeeded"] >= before["succeeded"]
    written = keys_under(s3, out)
    assert len(written) == len(set(written)) == SCALE
    assert sorted(written) == [f"{out}{index:05}.png" for index in range(SCALE)]
    _, last = opened(s3, f"{out}{SCALE - 1:05}.png")
    assert isinstance(last, Image.Image)
    assert last.size == (4, 3)
