"""The OpenAPI document as a client generator reads it: openapi-python-client turns
functions/meta/openapi.json into a typed client, and that client calls every route of the local
stack, each answer parsed into the generator's own models."""

from __future__ import annotations

import importlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import requests

from tests import images
from tests.e2e.conftest import ROOT, LocalStack

GENERATOR = Path(sys.executable).with_name("openapi-python-client")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The generated package's name, importable for the module's tests."""
    where = tmp_path_factory.mktemp("generated")
    command = [
        str(GENERATOR), "generate", "--path", str(ROOT / "functions" / "meta" / "openapi.json"),
        "--meta", "none", "--output-path", str(where / "imagejobs_api"),
    ]  # fmt: skip
    made = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert made.returncode == 0, made.stdout + made.stderr
    sys.path.insert(0, str(where))
    yield "imagejobs_api"
    sys.path.remove(str(where))
    for name in [name for name in sys.modules if name.startswith("imagejobs_api")]:
        del sys.modules[name]


def api(package: str, tag: str, operation: str) -> ModuleType:
    return importlib.import_module(f"{package}.api.{tag}.{operation}")


def model(package: str, name: str) -> Any:
    return getattr(importlib.import_module(f"{package}.models"), name)


def test_the_generated_client_calls_every_route(generated: str, local_stack: LocalStack) -> None:
    client_module = importlib.import_module(f"{generated}.client")
    public = client_module.Client(base_url=local_stack.api_url)
    keyed = client_module.AuthenticatedClient(
        base_url=local_stack.api_url, token=local_stack.api_key, prefix="", auth_header_name="X-API-Key"
    )
    called = set()

    def call(tag: str, operation: str, expected: str, **arguments: Any) -> Any:
        answer = api(generated, tag, operation).sync_detailed(**arguments)
        called.add(operation)
        assert type(answer.parsed).__name__ == expected, (operation, answer.status_code, answer.content[:300])
        return answer.parsed

    # public: the catalogues and health
    assert call("catalogue", "list_formats", "FormatCatalogue", client=public).formats
    assert call("catalogue", "list_operations", "OperationCatalogue", client=public).operations
    assert call("catalogue", "list_presets", "PresetCatalogue", client=public).presets
    assert call("meta", "get_health", "Health", client=public).status.value == "ok"

    # an upload, sent with its form, and a job on it, waited for
    upload_request = model(generated, "UploadRequest").from_dict({"filename": "a.jpg", "content_type": "image/jpeg"})
    form = call("uploads", "create_upload", "UploadForm", client=keyed, body=upload_request)
    sent = requests.post(form.url, data=form.fields.to_dict(), files={"file": images.jpeg(64, 48)}, timeout=10)
    assert sent.status_code == 204
    body = {"source": {"upload_id": form.upload_id}, "outputs": [{"name": "small", "format": "webp"}]}
    job_request = model(generated, "JobRequest").from_dict(body)
    created = call("jobs", "create_job", "CreatedJobDocument", client=keyed, body=job_request, idempotency_key="k-1")
    job = call("jobs", "get_job", "JobDocument", job_id=created.id, client=keyed, wait=20)
    assert (job.status.value, job.outputs[0].width) == ("succeeded", 64)
    listed = call("jobs", "list_jobs", "JobList", client=keyed, limit=5)
    assert created.id in [listed_job.id for listed_job in listed.jobs]
    refused = call("jobs", "retry_job", "ErrorBody", job_id=created.id, client=keyed)  # it succeeded: 409
    assert refused.error.code == "conflict"

    # the key's limits and today's use
    usage = call("usage", "get_usage", "Usage", client=keyed)
    assert (usage.tier.value, usage.limits.max_outputs, usage.rate.burst) == ("keyed", 10, 60)
    assert usage.quota.used >= 6  # this test's requests so far, with the key

    # a batch of two, waited for
    batch_request = model(generated, "BatchRequest").from_dict({"jobs": [body, body]})
    batch = call("batches", "create_batch", "BatchCreated", client=keyed, body=batch_request)
    deadline = time.monotonic() + 30
    while (
        got := call("batches", "get_batch", "BatchDocument", batch_id=batch.batch_id, client=keyed, wait=10)
    ).status.value != "completed":
        assert time.monotonic() < deadline
    assert got.counts.succeeded == 2
    none_failed = call("batches", "retry_batch", "ErrorBody", batch_id=batch.batch_id, client=keyed)  # 409
    assert none_failed.error.code == "conflict"

    # their archives, asked for and waited for
    for tag_id, kind in ((created.id, "job"), (batch.batch_id, "batch")):
        asked = call("archives", f"archive_{kind}", "ArchiveDocument", client=keyed, **{f"{kind}_id": tag_id})
        assert asked.status.value == "requested"
        deadline = time.monotonic() + 30
        while (
            archive := call(
                "archives", f"get_{kind}_archive", "ArchiveDocument", client=keyed, **{f"{kind}_id": tag_id}
            )
        ).status.value != "ready":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert archive.entries == (1 if kind == "job" else 2)
        assert requests.get(archive.url, timeout=10).content[:4] == b"PK\x03\x04"

    # and gone
    # an output's stable link, followed without a key: a redirect to its download
    token = job.outputs[0].link.rsplit("/", 1)[1]
    followed = api(generated, "links", "follow_link").sync_detailed(token=token, client=public)
    called.add("follow_link")
    assert (followed.status_code, followed.headers["location"].startswith("http")) == (302, True)

    assert api(generated, "jobs", "delete_job").sync_detailed(job_id=created.id, client=keyed).status_code == 204
    called.add("delete_job")
    assert call("jobs", "get_job", "ErrorBody", job_id=created.id, client=keyed).error.code == "not_found"

    every = {path.stem for path in (Path(sys.modules[generated].__file__).parent / "api").rglob("*.py")} - {"__init__"}
    assert called == every
