"""Archives: a ZIP of a job's outputs (or a batch's, a folder per job), asked for with POST, built
by the archive builder from the archives queue into an S3 multipart upload, and answered with GET
(its status, and a download link once ready). Refusals name their field; the ZIP opens with
Python's zipfile and with `unzip -t`."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from botocore.exceptions import ClientError

from devstack.stack import Stack
from devstack.template import ROOT
from imagejobs.deadline import Deadline
from imagejobs.services import archives
from imagejobs.store import storage
from tests import images
from tests.functional.conftest import Client, discard, drain, upload
from tests.functional.test_expiry import expire_now, stored

THREE = [
    {"name": "thumb", "format": "png", "operations": [{"type": "resize", "width": 8}]},
    {"name": "web", "format": "webp"},
    {"name": "print", "format": "jpeg", "operations": [{"type": "resize", "width": 20}]},
]


def finished_job(client: Client, stack: Stack, outputs: list[dict] = THREE) -> dict:
    created = client.post("/jobs", {"source": {"upload_id": upload(client, images.jpeg(32, 24))}, "outputs": outputs})
    assert created.status_code == 202, created.text
    drain(stack)
    job = client.get(f"/jobs/{created.json()['id']}").json()
    assert job["status"] == "succeeded", job
    return dict(job)


def downloaded(url: str) -> bytes:
    answer = requests.get(url, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.content


def incomplete_uploads(stack: Stack) -> list[str]:
    """The keys of multipart uploads begun and neither completed nor aborted (the bucket's lifecycle
    rule aborts them a day on)."""
    listed = stack.client("s3").list_multipart_uploads(Bucket=stack.template.refs["Bucket"])
    return [upload["Key"] for upload in listed.get("Uploads", [])]


def unzip_test(data: bytes, tmp_path: Path) -> str:
    path = tmp_path / "archive.zip"
    path.write_bytes(data)
    checked = subprocess.run(["unzip", "-t", str(path)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    return checked.stdout


def test_a_jobs_archive_holds_its_outputs_by_name(api: Client, stack: Stack, tmp_path: Path) -> None:
    # GIVEN a job that made three outputs
    job = finished_job(api, stack)
    assert api.get(f"/jobs/{job['id']}/archive").status_code == 404  # none asked for yet

    # WHEN its archive is asked for
    asked = api.post(f"/jobs/{job['id']}/archive", None)

    # THEN it is requested, and ready once the builder has run, with a link to the ZIP
    assert asked.status_code == 202, asked.text
    assert asked.json()["status"] == "requested"
    assert asked.json()["url"] is None
    assert api.get(f"/jobs/{job['id']}/archive").json()["status"] == "requested"
    drain(stack)
    archive = api.get(f"/jobs/{job['id']}/archive").json()
    assert archive["status"] == "ready", archive
    assert archive["kind"] == "job"
    assert archive["entries"] == 3
    assert archive["expires_at"] == job["expires_at"]
    data = downloaded(archive["url"])
    assert archive["bytes"] == len(data)
    with zipfile.ZipFile(io.BytesIO(data)) as opened:
        assert opened.namelist() == ["thumb.png", "web.webp", "print.jpg"]
        assert opened.testzip() is None
        for output in job["outputs"]:
            name = {"thumb": "thumb.png", "web": "web.webp", "print": "print.jpg"}[output["name"]]
            assert opened.read(name) == downloaded(output["url"])
    assert "No errors detected" in unzip_test(data, tmp_path)

    # and asking again answers the same archive, not a second one
    again = api.post(f"/jobs/{job['id']}/archive", None)
    assert again.status_code == 202
    assert again.json()["status"] == "ready"
    assert again.json()["created_at"] == archive["created_at"]


def test_a_batchs_archive_has_a_folder_per_succeeded_job(api: Client, stack: Stack, tmp_path: Path) -> None:
    # GIVEN a completed batch of two succeeded jobs and a failed one
    sources = [upload(api, images.jpeg(16, 16)), upload(api, images.png(16, 16), "image/png"), upload(api, b"words")]
    outputs = [{"name": "small", "format": "png", "operations": [{"type": "resize", "width": 8}]}]
    created = api.post("/batches", {"jobs": [{"source": {"upload_id": s}, "outputs": outputs} for s in sources]})
    batch_id, job_ids = created.json()["batch_id"], created.json()["job_ids"]
    drain(stack)
    assert api.get(f"/batches/{batch_id}").json()["status"] == "completed"

    # WHEN its archive is asked for and built
    asked = api.post(f"/batches/{batch_id}/archive", None)
    assert asked.status_code == 202, asked.text
    drain(stack)
    archive = api.get(f"/batches/{batch_id}/archive").json()

    # THEN it holds each succeeded job's outputs in the job's folder, in the batch's order
    assert archive["status"] == "ready", archive
    assert archive["kind"] == "batch"
    data = downloaded(archive["url"])
    with zipfile.ZipFile(io.BytesIO(data)) as opened:
        assert opened.namelist() == [f"{job_ids[0]}/small.png", f"{job_ids[1]}/small.png"]
        for job_id in job_ids[:2]:
            job = api.get(f"/jobs/{job_id}").json()
            assert opened.read(f"{job_id}/small.png") == downloaded(job["outputs"][0]["url"])
    unzip_test(data, tmp_path)
    # it goes with the earliest-expiring job it holds
    expiries = [api.get(f"/jobs/{job_id}").json()["expires_at"] for job_id in job_ids[:2]]
    assert archive["expires_at"] == min(expiries)
    # the job archive and the batch archive are not each other's
    assert api.get(f"/jobs/{batch_id}/archive").status_code == 404


def test_an_unfinished_job_or_batch_is_refused_with_409_naming_it(api: Client) -> None:
    # a job (and a batch) waiting for an upload that never comes
    body = {"source": {"upload": {"filename": "a.png", "content_type": "image/png"}}, "outputs": THREE[:1]}
    job = api.post("/jobs", body).json()
    refused = api.post(f"/jobs/{job['id']}/archive", None)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "conflict"
    assert refused.json()["error"]["details"][0]["path"] == "job_id"
    assert "awaiting_upload" in refused.json()["error"]["message"]

    batch = api.post("/batches", {"jobs": [body]}).json()
    refused = api.post(f"/batches/{batch['batch_id']}/archive", None)
    assert refused.status_code == 409
    assert refused.json()["error"]["details"][0]["path"] == "batch_id"
    assert api.get(f"/batches/{batch['batch_id']}/archive").status_code == 404


def test_a_failed_job_has_nothing_to_archive(api: Client, stack: Stack) -> None:
    created = api.post("/jobs", {"source": {"upload_id": upload(api, b"not an image")}, "outputs": THREE[:1]}).json()
    drain(stack)
    refused = api.post(f"/jobs/{created['id']}/archive", None)
    assert refused.status_code == 409
    assert "failed" in refused.json()["error"]["message"]


def test_another_tenants_job_and_unknown_ids_are_not_found(api: Client, other_tenant: Client, stack: Stack) -> None:
    job = finished_job(api, stack, THREE[:1])
    api.post(f"/jobs/{job['id']}/archive", None)
    drain(stack)
    for path in (f"/jobs/{job['id']}/archive", "/jobs/job_01M7YA9N5BT8MD9QV08S0WDDEP/archive"):
        for method in ("POST", "GET"):
            answer = other_tenant.request(method, path)
            assert answer.status_code == 404, (method, path, answer.text)
            assert answer.json()["error"]["details"][0]["path"] == "job_id"
    # ids that cannot be ours, however long or strange, are a 404, never a 5xx
    for strange in ("x" * 3000, "job_..%2F..%2Foutputs", "bat_01M7YA9N5BT8MD9QV08S0WDDEP"):
        assert api.post(f"/jobs/{strange}/archive", None).status_code == 404
        assert api.get(f"/batches/{strange}/archive").status_code == 404


def test_an_output_gone_before_the_build_fails_the_archive_which_can_be_asked_again(api: Client, stack: Stack) -> None:
    job = finished_job(api, stack, THREE[:2])
    bucket = stack.template.refs["Bucket"]
    key = f"outputs/{stack.tenant_id}/{job['id']}/web.webp"
    kept = stack.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    stack.client("s3").delete_object(Bucket=bucket, Key=key)

    api.post(f"/jobs/{job['id']}/archive", None)
    drain(stack)
    archive = api.get(f"/jobs/{job['id']}/archive").json()
    assert archive["status"] == "failed"
    assert archive["error"]["code"] == "source_not_found"
    assert archive["url"] is None
    assert stored(stack, f"archives/{stack.tenant_id}/{job['id']}") == []  # never completed
    assert f"archives/{stack.tenant_id}/{job['id']}.zip" in incomplete_uploads(stack)  # for the lifecycle rule

    # once the output is back, asking again builds it
    stack.client("s3").put_object(Bucket=bucket, Key=key, Body=kept)
    assert api.post(f"/jobs/{job['id']}/archive", None).json()["status"] == "requested"
    drain(stack)
    assert api.get(f"/jobs/{job['id']}/archive").json()["status"] == "ready"


def test_an_archive_expires_and_its_object_goes(api: Client, stack: Stack) -> None:
    job = finished_job(api, stack, THREE[:1])
    api.post(f"/jobs/{job['id']}/archive", None)
    drain(stack)
    key = f"archives/{stack.tenant_id}/{job['id']}.zip"
    assert stored(stack, key) == [key]

    expire_now(stack, stack.tenant_id, f"ARCHIVE#{job['id']}")
    assert api.get(f"/jobs/{job['id']}/archive").status_code == 404  # gone at once
    stack.ttl.sweep_once()

    assert stored(stack, key) == []


BUILD_IN_A_CHILD = """
import json, sys, tracemalloc
from imagejobs.deadline import Deadline
from imagejobs.services import archives
from imagejobs.store import repository
tenant_id, archive_id = sys.argv[1:3]
repository.get_archive(tenant_id, archive_id)  # clients and modules made before measuring
tracemalloc.start()
archives.build(json.dumps({"tenant_id": tenant_id, "archive_id": archive_id}), Deadline.unlimited(), final=True)
print(json.dumps({"peak": tracemalloc.get_traced_memory()[1]}))
"""


def build_in_a_child(api: Client, stack: Stack, outputs: int, part: int) -> tuple[dict, int]:
    """A job of `outputs` outputs of 5 MiB of noise (as incompressible as images), archived by the
    builder in a process of its own, where its Python memory is measured alone: the archive, and
    the build's peak."""
    job = finished_job(api, stack, [{"name": f"o{index}", "format": "png"} for index in range(outputs)])
    bucket = stack.template.refs["Bucket"]
    for index in range(outputs):
        key = f"outputs/{stack.tenant_id}/{job['id']}/o{index}.png"
        stack.client("s3").put_object(Bucket=bucket, Key=key, Body=os.urandom(5 * 2**20))
    assert api.post(f"/jobs/{job['id']}/archive", None).status_code == 202
    discard(stack)  # built below, not by the stack's poller
    env = {**os.environ, "ARCHIVE_PART_BYTES": str(part), "PYTHONPATH": str(ROOT / "layers" / "common")}
    child = subprocess.run(
        [sys.executable, "-c", BUILD_IN_A_CHILD, stack.tenant_id, job["id"]],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert child.returncode == 0, child.stderr
    archive = api.get(f"/jobs/{job['id']}/archive").json()
    assert archive["status"] == "ready", archive
    with zipfile.ZipFile(io.BytesIO(downloaded(archive["url"]))) as opened:
        assert len(opened.namelist()) == outputs
        assert opened.testzip() is None  # every entry's bytes against its CRC
        last = f"outputs/{stack.tenant_id}/{job['id']}/o{outputs - 1}.png"
        assert (
            opened.read(f"o{outputs - 1}.png") == stack.client("s3").get_object(Bucket=bucket, Key=last)["Body"].read()
        )
    return archive, json.loads(child.stdout.strip().splitlines()[-1])["peak"]


def test_an_archives_memory_does_not_grow_with_its_size(api: Client, stack: Stack) -> None:
    part = 5 * 2**20
    # GIVEN archives of 2 and of 10 outputs of 5 MiB (10 and 50 MiB), built with 5 MiB parts
    small, small_peak = build_in_a_child(api, stack, 2, part)
    large, large_peak = build_in_a_child(api, stack, 10, part)

    # THEN the large one is five times the small one, and both were built in the same few parts of memory
    assert small["bytes"] < 2.1 * part < 9 * part < large["bytes"]
    mib = 2**20
    sizes = ", ".join(
        f"{peak / mib:.1f} MiB for {built['bytes'] / mib:.0f} MiB"
        for built, peak in ((small, small_peak), (large, large_peak))
    )
    assert large_peak < 5 * part, sizes
    assert large_peak < small_peak * 1.25, sizes
    print(f"archive builds' peak Python memory: {sizes}")


@pytest.mark.parametrize("path", ["/jobs/{id}/archive", "/batches/{id}/archive"])
def test_archive_routes_need_a_key(stack: Stack, path: str) -> None:
    answer = requests.post(stack.api_url + path.format(id="job_01M7YA9N5BT8MD9QV08S0WDDEP"), timeout=10)
    assert answer.status_code == 401


@pytest.mark.parametrize("final", [False, True])
def test_an_unexpected_error_is_retried_and_fails_the_archive_on_the_last_delivery(
    api: Client, stack: Stack, monkeypatch: pytest.MonkeyPatch, final: bool
) -> None:
    job = finished_job(api, stack, THREE[:1])
    api.post(f"/jobs/{job['id']}/archive", None)
    discard(stack)

    def throttled(key: str, chunk_bytes: int = 2**20) -> Iterator[bytes]:
        raise ClientError({"Error": {"Code": "SlowDown", "Message": "slow down"}}, "GetObject")
        yield b""

    monkeypatch.setattr(storage, "read_chunks", throttled)
    body = json.dumps({"tenant_id": stack.tenant_id, "archive_id": job["id"]})
    with pytest.raises(ClientError):
        archives.build(body, Deadline.unlimited(), final=final)

    archive = api.get(f"/jobs/{job['id']}/archive").json()
    if final:  # the last delivery: failed, never left building, and asked for again it is built anew
        assert (archive["status"], archive["error"]["code"]) == ("failed", "internal")
        monkeypatch.undo()
        assert api.post(f"/jobs/{job['id']}/archive", None).json()["status"] == "requested"
        drain(stack)
        assert api.get(f"/jobs/{job['id']}/archive").json()["status"] == "ready"
    else:  # SQS brings it again
        assert archive["status"] == "building"
    assert stored(stack, f"archives/{stack.tenant_id}/{job['id']}") == (
        [f"archives/{stack.tenant_id}/{job['id']}.zip"] if final else []
    )
