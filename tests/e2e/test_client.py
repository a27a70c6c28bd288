"""The Python client and the `imagejobs` command against the local stack, as a user runs them."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from imagejobs_client import (
    AuthenticationError,
    Client,
    ConflictError,
    InvalidRequestError,
    JobFailedError,
    NotFoundError,
    parse_output,
)
from tests import images
from tests.client.conftest import IMAGEJOBS
from tests.conftest import free_port
from tests.e2e.conftest import ROOT, LocalStack

SAMPLES = ROOT / "samples"
EIFFEL = ((48.0, 51.0, 29.5), "N", (2.0, 17.0, 40.2), "E", 35.5)


@pytest.fixture
def client(local_stack: LocalStack) -> Iterator[Client]:
    with Client(local_stack.api_url, local_stack.api_key) as made:
        yield made


def imagejobs(stack: LocalStack, *args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The console script, configured by the environment as the README says."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("IMAGEJOBS_")}
    environment |= {
        "IMAGEJOBS_URL": stack.api_url,
        "IMAGEJOBS_API_KEY": stack.api_key,
        "IMAGEJOBS_WEBHOOK_SECRET": stack.webhook_secret,
        "XDG_CONFIG_HOME": str(cwd / ".config"),  # no config file from the machine running the tests
    }
    return subprocess.run(
        [str(IMAGEJOBS), *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout, check=False
    )


def opened(data: bytes | Path) -> Image.Image:
    image = Image.open(io.BytesIO(data) if isinstance(data, bytes) else data)
    image.load()
    return image


# The library


def test_run_uploads_processes_and_saves_an_og_image(client: Client, tmp_path: Path) -> None:
    # WHEN a local JPEG is run with the og-image preset
    result = client.run(SAMPLES / "photo.jpg", preset="og-image", out=tmp_path, metadata={"order": "1234"})

    # THEN the job succeeded and out/og-image.jpg is a 1200x630 JPEG
    assert result.job.status == "succeeded"
    assert result.job.metadata == {"order": "1234"}
    assert result.job.source["format"] == "jpeg"
    assert result.files == {"og-image": tmp_path / "og-image.jpg"}
    image = opened(tmp_path / "og-image.jpg")
    assert (image.format, image.size) == ("JPEG", (1200, 630))
    [output] = result.job.outputs
    assert (output.width, output.height, output.bytes) == (1200, 630, (tmp_path / "og-image.jpg").stat().st_size)


def test_run_with_one_line_outputs_on_an_heic(client: Client, tmp_path: Path) -> None:
    outputs = [
        parse_output("thumb:webp:resize=400x400,cover:quality=70", client.output_options()),
        parse_output("gray:png:resize=200:filter=grayscale", client.output_options()),
    ]

    result = client.run(str(SAMPLES / "photo.heic"), outputs=outputs, out=tmp_path)

    thumb, gray = opened(result.files["thumb"]), opened(result.files["gray"])
    assert (thumb.format, thumb.size) == ("WEBP", (400, 400))
    assert (gray.format, gray.size) == ("PNG", (200, 133))
    red, green, blue = gray.convert("RGB").getpixel((100, 66))
    assert red == green == blue  # grayscale


def test_an_upload_is_reusable_by_jobs_and_an_idempotency_key_answers_the_first_job(client: Client) -> None:
    upload = client.upload(SAMPLES / "logo.png")

    first = client.create_job(upload.upload_id, preset="favicon", idempotency_key=f"logo-{upload.upload_id}")
    again = client.create_job(upload.upload_id, preset="favicon", idempotency_key=f"logo-{upload.upload_id}")

    assert again.id == first.id
    job = client.wait_for_job(first.id, timeout=60)
    assert job.status == "succeeded"
    assert {output.name for output in job.outputs} >= {"favicon", "apple-touch-icon"}
    assert job.output("favicon").extension == "ico"
    with pytest.raises(ConflictError) as raised:
        client.create_job(upload.upload_id, preset="og-image", idempotency_key=f"logo-{upload.upload_id}")
    assert raised.value.paths == ["Idempotency-Key"]


def test_api_errors_carry_the_code_and_the_field_paths(client: Client, local_stack: LocalStack) -> None:
    with pytest.raises(InvalidRequestError) as raised:
        client.create_job(
            SAMPLES / "photo.jpg",
            outputs=[{"name": "a", "format": "webp", "operations": [{"type": "resize", "width": -5}]}],
        )
    assert (raised.value.status, raised.value.code) == (422, "invalid_request")
    assert raised.value.paths == ["outputs[0].operations[0].width"]

    with pytest.raises(NotFoundError) as missing:
        client.get_job("job_01M8SVXGBFW3NYP9HHD2D15ZXJ")
    assert (missing.value.status, missing.value.code) == (404, "not_found")

    with Client(local_stack.api_url, "ij_not_a_key") as stranger, pytest.raises(AuthenticationError) as refused:
        stranger.list_jobs()
    assert (refused.value.status, refused.value.code) == (401, "unauthorized")


def test_a_failed_job_raises_with_its_stable_code(client: Client, tmp_path: Path) -> None:
    fake = tmp_path / "fake.jpg"
    fake.write_bytes(b"this is text, not a JPEG" * 10)

    with pytest.raises(JobFailedError) as raised:
        client.run(fake, preset="og-image", out=tmp_path)

    assert raised.value.code == "unsupported_format"
    assert raised.value.job.status == "failed"
    assert not (tmp_path / "og-image.jpg").exists()


def test_jobs_are_listed_retried_and_deleted(client: Client, tmp_path: Path) -> None:
    fake = tmp_path / "fake.png"
    fake.write_bytes(b"not a png")
    with pytest.raises(JobFailedError) as raised:
        client.run(fake, preset="og-image", out=tmp_path)
    failed = raised.value.job

    listed = [job.id for job in client.iter_jobs(status="failed", page_size=1)]
    assert failed.id in listed
    retried = client.retry_job(failed.id)
    assert retried.id == failed.id
    assert client.wait_for_job(failed.id, timeout=60).attempts >= 2

    client.delete_job(failed.id)
    with pytest.raises(NotFoundError):
        client.get_job(failed.id)


def test_run_batch_saves_each_sources_outputs_in_its_own_folder(client: Client, tmp_path: Path) -> None:
    seen = []
    sources = [SAMPLES / "photo.jpg", SAMPLES / "photo.heic", SAMPLES / "logo.png"]

    result = client.run_batch(sources, preset="og-image", out=tmp_path, on_update=seen.append)

    assert result.batch.status == "completed"
    assert result.batch.counts["succeeded"] == 3
    assert seen[-1].status == "completed"
    assert [job.status for job in result.jobs] == ["succeeded"] * 3
    for folder in ("photo.jpg", "photo.heic", "logo"):  # the stems repeat, so photo.* keep their suffix
        image = opened(tmp_path / folder / "og-image.jpg")
        assert (image.format, image.size) == ("JPEG", (1200, 630))


# The command


def test_the_done_when_command_writes_a_1200x630_jpeg(local_stack: LocalStack, tmp_path: Path) -> None:
    (tmp_path / "samples").symlink_to(SAMPLES)

    result = imagejobs(local_stack, "run", "samples/photo.jpg", "--preset", "og-image", "-o", "out/", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\t")[0] == "out/og-image.jpg"
    image = opened(tmp_path / "out" / "og-image.jpg")
    assert (image.format, image.size) == ("JPEG", (1200, 630))


def test_run_over_a_glob_with_one_line_outputs_and_a_json_report(local_stack: LocalStack, tmp_path: Path) -> None:
    shots = tmp_path / "shots"
    shots.mkdir()
    for name in ("a.jpg", "b.jpg"):
        (shots / name).write_bytes((SAMPLES / "photo.jpg").read_bytes())
    (shots / "notes.txt").write_text("not matched by the glob")

    result = imagejobs(
        local_stack,
        "run",
        "shots/*.jpg",
        "--output",
        "thumb:webp:resize=400x400,cover",
        "--output",
        '{"name": "small", "format": "png", "operations": [{"type": "resize", "width": 100}]}',
        "-o",
        "out",
        "--json",
        cwd=tmp_path,
    )

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [(job["source"], job["status"]) for job in report["jobs"]] == [
        ("shots/a.jpg", "succeeded"),
        ("shots/b.jpg", "succeeded"),
    ]
    for stem in ("a", "b"):
        thumb, small = opened(tmp_path / "out" / stem / "thumb.webp"), opened(tmp_path / "out" / stem / "small.png")
        assert (thumb.format, thumb.size, small.format, small.width) == ("WEBP", (400, 400), "PNG", 100)


def test_a_bad_output_exits_2_naming_the_field(local_stack: LocalStack, tmp_path: Path) -> None:
    result = imagejobs(
        local_stack, "run", str(SAMPLES / "photo.jpg"), "--output", "a:webp:resize=-5x10", "-o", "out", cwd=tmp_path
    )

    assert result.returncode == 2
    assert "422 invalid_request" in result.stderr
    assert "outputs[0].operations[0].width" in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_failed_job_exits_1_with_its_code(local_stack: LocalStack, tmp_path: Path) -> None:
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff" + b"\x00" * 200)  # a JPEG's magic, then nothing

    result = imagejobs(local_stack, "run", "broken.jpg", "--preset", "og-image", "-o", "out", cwd=tmp_path)

    assert result.returncode == 1
    assert re.search(r"broken\.jpg: job job_\w+ failed: corrupt_image: ", result.stderr), result.stderr


def test_jobs_list_get_retry_and_delete(local_stack: LocalStack, tmp_path: Path) -> None:
    (tmp_path / "fake.webp").write_bytes(b"RIFF....WEBP nothing more")
    imagejobs(local_stack, "run", "fake.webp", "--preset", "og-image", cwd=tmp_path)

    listed = imagejobs(local_stack, "jobs", "list", "--status", "failed", "--limit", "1", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    [job] = json.loads(listed.stdout)["jobs"]
    assert job["status"] == "failed"

    got = imagejobs(local_stack, "jobs", "get", job["id"], cwd=tmp_path)
    assert (got.returncode, json.loads(got.stdout)["id"]) == (1, job["id"])  # 1: the job failed

    retried = imagejobs(local_stack, "jobs", "retry", job["id"], "--wait", cwd=tmp_path)
    assert json.loads(retried.stdout)["attempts"] >= 2

    deleted = imagejobs(local_stack, "jobs", "delete", job["id"], cwd=tmp_path)
    assert deleted.returncode == 0
    gone = imagejobs(local_stack, "jobs", "get", job["id"], cwd=tmp_path)
    assert (gone.returncode, "404 not_found" in gone.stderr) == (1, True)


def test_batch_run_with_zip_zips_the_outputs(local_stack: LocalStack, tmp_path: Path) -> None:
    result = imagejobs(
        local_stack,
        "batch",
        "run",
        str(SAMPLES / "photo.jpg"),
        str(SAMPLES / "logo.png"),
        "--output",
        "thumb:webp:resize=200x200",
        "--zip",
        "all.zip",
        cwd=tmp_path,
    )

    # THEN the client saved the API's archive of the batch: a folder per job
    assert result.returncode == 0, result.stderr
    assert "the API's archive of batch" in result.stderr
    with zipfile.ZipFile(tmp_path / "all.zip") as archive:
        assert [re.sub(r"^job_\w{26}/", "<job>/", name) for name in archive.namelist()] == ["<job>/thumb.webp"] * 2
        for name in archive.namelist():
            assert opened(archive.read(name)).size == (200, 200)
    assert [path.name for path in tmp_path.iterdir()] == ["all.zip"]  # no outputs left outside it


def test_listen_prints_the_stacks_signed_callbacks(local_stack: LocalStack, tmp_path: Path) -> None:
    # GIVEN `imagejobs listen` with the stack's webhook secret, for one event
    environment = {**os.environ, "IMAGEJOBS_WEBHOOK_SECRET": local_stack.webhook_secret}
    listener = subprocess.Popen(
        [str(IMAGEJOBS), "listen", "--port", "0", "--count", "1"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert listener.stderr is not None
        started = re.search(r"listening on (\S+)", listener.stderr.readline())
        assert started

        # WHEN a job is run with it as the callback
        with Client(local_stack.api_url, local_stack.api_key) as client:
            job = client.run(
                SAMPLES / "photo.jpg", preset="og-image", out=tmp_path, callback_url=started.group(1) + "hooks"
            ).job
        out, err = listener.communicate(timeout=30)
    finally:
        if listener.poll() is None:
            listener.kill()
            listener.wait()

    # THEN it verified and printed the job.succeeded event
    assert listener.returncode == 0, err
    fields = out.strip().split("\t")
    assert fields[1:4] == ["job.succeeded", job.id, "succeeded"]
    assert fields[4] == "og-image jpeg 1200x630"


def test_the_readme_client_commands_work_pasted_as_written(local_stack: LocalStack, tmp_path: Path) -> None:
    # GIVEN the README's client block, run by bash in a folder with the samples, the client's
    # command on PATH (as an activated virtual environment has it) and the stack's settings in the
    # variables the README names; only listen's port 8000 becomes a free one
    block = re.search(r"<!-- client -->\s*```sh\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert block is not None
    (tmp_path / "samples").symlink_to(SAMPLES)
    script = block.group(1).replace("8000", str(free_port()))

    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        check=False,
        cwd=tmp_path,
        env={
            "PATH": f"{IMAGEJOBS.parent}:/usr/bin:/bin",
            "HOME": str(tmp_path),
            "IMAGEJOBS_PORT": str(local_stack.port),
            "IMAGEJOBS_API_KEY": local_stack.api_key,
            "IMAGEJOBS_WEBHOOK_SECRET": local_stack.webhook_secret,
        },
        capture_output=True,
        text=True,
        timeout=300,
    )

    # THEN every command did what its comment says
    assert result.returncode == 0, result.stderr + result.stdout
    out = tmp_path / "out"
    assert opened(out / "og-image.jpg").size == (1200, 630)
    responsive = sorted(path.name for path in (out / "responsive").iterdir())
    ladder = [f"{kind}-{width}.{kind}" for kind in ("avif", "webp") for width in (320, 640, 960, 1280, 1920)]
    assert responsive == sorted(ladder)
    for folder in ("photo.jpg", "photo.heic", "logo"):
        assert opened(out / "thumbs" / folder / "thumb.webp").size == (400, 400)
        assert opened(out / "thumbs" / folder / "small.png").width == 200
    with zipfile.ZipFile(out / "og-images.zip") as archive:
        # the API's archive of the batch: a folder per job
        assert [re.sub(r"^job_\w{26}/", "<job>/", name) for name in archive.namelist()] == ["<job>/og-image.jpg"] * 3
    assert opened(out / "again" / "og-image.jpg").size == (1200, 630)
    assert {path.name for path in (out / "icons").iterdir()} == {
        "favicon.ico",
        "apple-touch-icon.png",
        "icon-192.png",
        "icon-512.png",
    }
    [event] = (out / "events.txt").read_text().splitlines()
    _, kind, job_id, status, outputs = event.split("\t")
    assert (kind, job_id.startswith("job_"), status) == ("job.succeeded", True, "succeeded")
    assert "favicon ico" in outputs


def test_run_with_analysis_gives_a_typed_analysis(client: Client, tmp_path: Path) -> None:
    # GIVEN a real photograph with a camera's EXIF and a GPS position
    photo = tmp_path / "tagged.jpg"
    photo.write_bytes(images.with_exif(images.photograph(), images.camera_exif(gps=EIFFEL).tobytes()))

    # WHEN the client runs a job on it asking for analysis with GPS
    result = client.run(str(photo), outputs=[{"name": "web", "format": "webp"}], out=tmp_path, analysis={"gps": True})

    # THEN the job document's analysis is typed: the photograph's colours, placeholders, camera and position
    analysis = result.job.analysis
    assert analysis is not None
    assert analysis.palette and all(0 < colour.share <= 1 for colour in analysis.palette)
    assert analysis.blurhash and analysis.blurhash.startswith("T") and analysis.thumbhash
    assert analysis.camera == {"make": "Canon", "model": "Canon EOS 5D"}
    assert analysis.captured_at == "2024-05-01T14:03:22+02:00"
    assert analysis.gps == {"latitude": 48.858194, "longitude": 2.2945, "altitude": 35.5}
    assert (analysis.has_alpha, analysis.animated, analysis.frames, analysis.notes) == (False, False, 1, ())
    # and the output it saved carries none of that EXIF
    assert not Image.open(result.files["web"]).getexif()
