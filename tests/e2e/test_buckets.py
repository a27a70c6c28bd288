"""The local stack's connected bucket, local-media, used as the README tells a user to: a file put
in it with the AWS CLI or boto3 becomes a job by `{"s3": …}`, whose outputs land at their keys."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from PIL import Image

from tests.e2e.conftest import ROOT, LocalStack

SAMPLES = ROOT / "samples"


def readme_block(marker: str, language: str) -> str:
    found = re.search(rf"<!-- {marker} -->\s*```{language}\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert found is not None, f"README.md has no {marker} block"
    return found.group(1)


def local_s3(stack: LocalStack) -> object:
    return boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{stack.aws_port}",
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def opened(s3: object, key: str) -> tuple[str, Image.Image]:
    found = s3.get_object(Bucket="local-media", Key=key)  # type: ignore[attr-defined]
    return found["ContentType"], Image.open(io.BytesIO(found["Body"].read()))


def test_make_run_says_which_bucket_is_connected_and_how_to_put_files_in_it(local_stack: LocalStack) -> None:
    printed = local_stack.log.read_text()

    assert "buckets:        local-media (the API key's tenant may read and write them)" in printed
    assert f"aws --endpoint-url http://127.0.0.1:{local_stack.aws_port} s3 cp samples/photo.jpg" in printed
    assert f'boto3.client("s3", endpoint_url="http://127.0.0.1:{local_stack.aws_port}"' in printed


@pytest.mark.skipif(shutil.which("aws") is None, reason="the README's bucket block uses the AWS CLI")
def test_the_readme_bucket_block_works_pasted_as_written(local_stack: LocalStack, tmp_path: Path) -> None:
    # GIVEN the README's bucket block, run by bash in a folder with the samples, the AWS CLI on PATH
    (tmp_path / "samples").symlink_to(SAMPLES)

    # WHEN it runs against the stack (the ports and key from the documented variables)
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", readme_block("buckets", "sh")],
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

    # THEN the listing shows the photo and its two outputs, and the thumbnail's content type
    assert result.returncode == 0, result.stderr + result.stdout
    lines = result.stdout.splitlines()
    listed = [line.split()[-1] for line in lines[:-1] if line.split()]
    assert {"products/123.jpg", "products/thumbs/123-400w.webp", "products/large/123.jpg"} <= set(listed), lines
    assert lines[-1] == "image/webp"
    # AND the objects are the images asked for, with the content type and cache control of each
    s3 = local_s3(local_stack)
    content_type, thumb = opened(s3, "products/thumbs/123-400w.webp")
    assert (content_type, thumb.format, thumb.size) == ("image/webp", "WEBP", (400, 267))
    cache = s3.head_object(Bucket="local-media", Key="products/thumbs/123-400w.webp")["CacheControl"]  # type: ignore[attr-defined]
    assert cache == "public, max-age=31536000, immutable"
    content_type, large = opened(s3, "products/large/123.jpg")
    assert (content_type, large.format, large.size) == ("image/jpeg", "JPEG", (1200, 800))


def test_the_readme_boto3_block_works_with_the_stacks_ports(local_stack: LocalStack, tmp_path: Path) -> None:
    # GIVEN the README's Python block, with the stack's ports and key for the defaults it names
    (tmp_path / "samples").symlink_to(SAMPLES)
    script = (
        readme_block("buckets-python", "python")
        .replace("127.0.0.1:3000", f"127.0.0.1:{local_stack.port}")
        .replace("127.0.0.1:3001", f"127.0.0.1:{local_stack.aws_port}")
        .replace("ij_local_dev_key", local_stack.api_key)
    )

    result = subprocess.run(
        [sys.executable, "-c", script], check=False, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["s3://local-media/products/thumbs/456-400w.webp", "image/webp"]
    content_type, thumb = opened(local_s3(local_stack), "products/thumbs/456-400w.webp")
    assert (content_type, thumb.size) == ("image/webp", (400, 267))
