"""What a user does with the local stack, over HTTP: the README walkthrough, uploads with a real
HTTP client, jobs, downloads, and signed callbacks to a receiver on loopback."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import requests
from PIL import Image
from standardwebhooks import Webhook

from devstack.__main__ import walkthrough
from tests import images
from tests.conftest import CallbackReceiver
from tests.e2e import terminal
from tests.e2e.conftest import ROOT, LocalStack, wait_for_job

SAMPLES = ROOT / "samples"


def assert_walkthrough_results(folder: Path) -> None:
    """The downloads are the images the walkthrough asked for."""
    thumb = Image.open(folder / "thumb.webp")
    assert (thumb.format, thumb.size) == ("WEBP", (400, 400))
    photo = Image.open(folder / "photo.jpg")
    assert (photo.format, photo.size) == ("JPEG", (1200, 800))
    logo = Image.open(folder / "logo.webp")
    assert (logo.format, logo.size, logo.mode) == ("WEBP", (256, 256), "RGBA")
    assert logo.getpixel((0, 0))[3] == 0  # the transparent corner stayed transparent


def walkthrough_environment(stack: LocalStack, home: Path) -> dict[str, str]:
    """A user's terminal: the ports and key from the documented variables, and nothing else set."""
    return {
        "PATH": "/usr/bin:/bin:/usr/local/bin",
        "HOME": str(home),
        "TERM": "xterm-256color",
        "IMAGEJOBS_PORT": str(stack.port),
        "IMAGEJOBS_API_KEY": stack.api_key,
    }


def test_the_readme_walkthrough_works_pasted_as_written(local_stack: LocalStack, tmp_path: Path) -> None:
    # GIVEN the README's walkthrough (what `make run` prints), run by bash in a fresh folder that has the samples
    (tmp_path / "samples").symlink_to(SAMPLES)

    # WHEN it runs against the stack, stopping at the first command that fails
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", walkthrough()],
        check=False,
        cwd=tmp_path,
        env=walkthrough_environment(local_stack, tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )

    # THEN every job succeeded and the downloads are the images the walkthrough asked for
    assert result.returncode == 0, result.stderr + result.stdout
    assert result.stdout.split() == ["succeeded", "succeeded", "succeeded"], result.stdout
    assert_walkthrough_results(tmp_path)


def test_the_readme_idempotency_example_answers_the_first_job_again(local_stack: LocalStack, tmp_path: Path) -> None:
    # GIVEN the walkthrough, then the README's idempotency example, run by bash as written
    example = re.search(r"<!-- idempotency -->\s*```sh\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert example is not None
    (tmp_path / "samples").symlink_to(SAMPLES)

    # WHEN it posts its request body twice with one Idempotency-Key
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", walkthrough() + example.group(1)],
        check=False,
        cwd=tmp_path,
        env=walkthrough_environment(local_stack, tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )

    # THEN both answers are one job, made from the body the file holds (a request, not an answer)
    assert result.returncode == 0, result.stderr + result.stdout
    *_, first, second = result.stdout.split()
    assert first.startswith("job_")
    assert second == first
    job = requests.get(f"{local_stack.api_url}/jobs/{first}?wait=20", headers=local_stack.headers(), timeout=30)
    assert [output["name"] for output in job.json()["outputs"]] == ["thumb"]


@pytest.mark.parametrize(
    "shell",
    [
        pytest.param(["zsh", "-f", "-i"], id="zsh"),  # macOS's shell, with its default options (no rc files)
        pytest.param(["bash", "--norc", "--noprofile", "-i"], id="bash"),
    ],
)
def test_the_readme_walkthrough_pasted_into_an_interactive_shell_runs_cleanly(
    local_stack: LocalStack, tmp_path: Path, shell: list[str]
) -> None:
    if shutil.which(shell[0]) is None:
        pytest.fail(f"no {shell[0]} for the walkthrough test: `make shells` installs it")
    # GIVEN a terminal running the shell, as a user opens one, in a fresh folder that has the samples
    (tmp_path / "samples").symlink_to(SAMPLES)

    # WHEN the walkthrough is pasted into it in one go (what `make run` prints), and `exit` typed
    session = terminal.paste(
        shell, walkthrough(), tmp_path, walkthrough_environment(local_stack, tmp_path), timeout=120
    )

    # THEN the shell took every line as written (no stray comment, quote or pattern) and every job succeeded
    assert session.problems == [], session.output[-3000:]
    assert session.status == 0, session.output[-3000:]
    assert session.lines.count("succeeded") == 3, session.output[-3000:]
    assert_walkthrough_results(tmp_path)


@pytest.mark.parametrize(
    ("sample", "content_type", "source_format", "size"),
    [
        ("photo.jpg", "image/jpeg", "jpeg", (1600, 1067)),
        ("logo.png", "image/png", "png", (512, 512)),
        ("photo.heic", "image/heic", "heic", (1600, 1067)),
    ],
)
def test_upload_process_download_with_a_signed_callback(
    local_stack: LocalStack,
    receiver: CallbackReceiver,
    sample: str,
    content_type: str,
    source_format: str,
    size: tuple[int, int],
) -> None:
    # GIVEN an image uploaded with the presigned form, by a real HTTP client, straight to S3
    form = requests.post(
        f"{local_stack.api_url}/uploads",
        json={"filename": sample, "content_type": content_type},
        headers=local_stack.headers(),
        timeout=10,
    ).json()
    data = (SAMPLES / sample).read_bytes()
    sent = requests.post(form["url"], data=form["fields"], files={"file": (sample, data, content_type)}, timeout=10)
    assert sent.status_code == 204

    # WHEN a job asks for a cover-cropped WebP and a JPEG, with a callback
    created = requests.post(
        f"{local_stack.api_url}/jobs",
        json={
            "source": {"upload_id": form["upload_id"]},
            "outputs": [
                {"name": "square", "format": "webp", "operations": [{"type": "resize", "width": 300, "height": 300}]},
                {"name": "small", "format": "jpeg", "quality": 70, "operations": [{"type": "resize", "width": 200}]},
            ],
            "callback_url": receiver.url,
            "metadata": {"sample": sample},
        },
        headers=local_stack.headers(),
        timeout=10,
    )
    assert created.status_code == 202
    job = wait_for_job(local_stack, created.json()["id"])

    # THEN the job describes its source and outputs, and the downloads are those images
    assert job["status"] == "succeeded", job
    assert (job["source"]["format"], job["source"]["width"], job["source"]["height"]) == (source_format, *size)
    square, small = job["outputs"]
    square_image = Image.open(io.BytesIO(requests.get(square["url"], timeout=10).content))
    small_image = Image.open(io.BytesIO(requests.get(small["url"], timeout=10).content))
    assert (square_image.format, square_image.size) == ("WEBP", (300, 300))
    assert (small_image.format, small_image.size) == ("JPEG", (200, round(200 * size[1] / size[0])))
    assert (small["width"], small["height"]) == small_image.size

    # AND a job.succeeded callback arrived, signed with the tenant's secret
    (delivery,) = receiver.wait_for(1)
    payload = Webhook(local_stack.webhook_secret).verify(delivery.body, delivery.headers)
    assert payload["type"] == "job.succeeded"
    assert payload["data"]["id"] == job["id"]
    assert payload["data"]["metadata"] == {"sample": sample}


def test_a_corrupt_upload_fails_its_job_and_calls_back_job_failed(
    local_stack: LocalStack, receiver: CallbackReceiver
) -> None:
    created = requests.post(
        f"{local_stack.api_url}/jobs",
        json={
            "source": {"upload": {"filename": "broken.jpg", "content_type": "image/jpeg"}},
            "outputs": [{"name": "x", "format": "png"}],
            "callback_url": receiver.url,
        },
        headers=local_stack.headers(),
        timeout=10,
    ).json()
    form = created["upload"]
    broken = images.jpeg(640, 480)[:1500]
    requests.post(form["url"], data=form["fields"], files={"file": ("broken.jpg", broken, "image/jpeg")}, timeout=10)

    job = wait_for_job(local_stack, created["id"])

    assert job["status"] == "failed"
    assert job["error"]["code"] == "corrupt_image"
    (delivery,) = receiver.wait_for(1)
    payload = Webhook(local_stack.webhook_secret).verify(delivery.body, delivery.headers)
    assert payload["type"] == "job.failed"
    assert payload["data"]["error"]["code"] == "corrupt_image"


def test_a_callback_answered_500_twice_arrives_three_times_with_one_id_and_valid_signatures(
    local_stack: LocalStack, receiver: CallbackReceiver
) -> None:
    receiver.statuses = [500, 500]
    created = requests.post(
        f"{local_stack.api_url}/jobs",
        json={
            "source": {"upload": {"filename": "logo.png", "content_type": "image/png"}},
            "outputs": [{"name": "icon", "format": "png", "operations": [{"type": "resize", "width": 32}]}],
            "callback_url": receiver.url,
        },
        headers=local_stack.headers(),
        timeout=10,
    ).json()
    form = created["upload"]
    requests.post(form["url"], data=form["fields"], files={"file": ("logo.png", (SAMPLES / "logo.png").read_bytes())})

    deliveries = receiver.wait_for(3, timeout=60)

    assert [d.headers["webhook-id"] for d in deliveries] == [deliveries[0].headers["webhook-id"]] * 3
    for delivery in deliveries:
        assert (
            Webhook(local_stack.webhook_secret).verify(delivery.body, delivery.headers)["data"]["id"] == created["id"]
        )
    job = wait_for_job(local_stack, created["id"])
    assert job["status"] == "succeeded"
    deadline = time.monotonic() + 10
    while job["callback"]["status"] != "delivered" and time.monotonic() < deadline:
        time.sleep(0.2)
        job = requests.get(
            f"{local_stack.api_url}/jobs/{created['id']}", headers=local_stack.headers(), timeout=10
        ).json()
    assert job["callback"] == {"url": receiver.url, "status": "delivered", "attempts": 3}


def test_schemathesis_finds_no_server_error_and_no_answer_off_the_document(local_stack: LocalStack) -> None:
    # A short run of `make fuzz-api` (which runs longer) against this stack.
    result = subprocess.run(
        [sys.executable, "scripts/fuzz_api.py", "--api-url", local_stack.api_url, "--key", local_stack.api_key],
        cwd=ROOT,
        env={**os.environ, "FUZZ_EXAMPLES": "15"},
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )

    assert result.returncode == 0, result.stdout[-4000:]


def test_the_readme_archive_example_works_after_the_walkthrough(local_stack: LocalStack, tmp_path: Path) -> None:
    # GIVEN the walkthrough, then the Archives section's shell block, in the same bash
    readme = (ROOT / "README.md").read_text()
    walkthrough = readme.split("<!-- walkthrough -->")[1].split("<!-- /walkthrough -->")[0]
    archives = re.search(r"<!-- archives -->\s*```sh\n(.*?)```", readme, re.S)
    assert archives is not None
    script = "".join(re.findall(r"```sh\n(.*?)```", walkthrough, re.S)) + archives.group(1)
    (tmp_path / "samples").symlink_to(SAMPLES)

    # WHEN they run against the stack
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        check=False,
        cwd=tmp_path,
        env={
            "PATH": "/usr/bin:/bin:/usr/local/bin",
            "IMAGEJOBS_PORT": str(local_stack.port),
            "IMAGEJOBS_API_KEY": local_stack.api_key,
        },
        capture_output=True,
        text=True,
        timeout=180,
    )

    # THEN the job's ZIP holds its two outputs, the very images the walkthrough downloaded
    assert result.returncode == 0, result.stderr + result.stdout
    assert "thumb.webp" in result.stdout
    [archive] = tmp_path.glob("job_*.zip")
    with zipfile.ZipFile(archive) as opened:
        assert opened.namelist() == ["thumb.webp", "large.jpg"]
        assert opened.read("thumb.webp") == (tmp_path / "thumb.webp").read_bytes()
        large = Image.open(io.BytesIO(opened.read("large.jpg")))
        assert (large.format, large.size[0]) == ("JPEG", 800)
    checked = subprocess.run(["unzip", "-t", str(archive)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout
