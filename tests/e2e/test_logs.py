"""The local stack's log, as `make run` prints it: each function's JSON lines name that function,
even while others run beside it (the API polled while the job is processed)."""

from __future__ import annotations

import json

import requests

from tests import images
from tests.e2e.conftest import LocalStack, wait_for_job


def log_lines(stack: LocalStack) -> list[dict]:
    return [json.loads(line) for line in stack.log.read_text().splitlines() if line.startswith("{")]


def test_log_lines_name_the_function_that_wrote_them(local_stack: LocalStack) -> None:
    # GIVEN a job processed while its status is polled, and a request with a key nobody has
    form = requests.post(
        f"{local_stack.api_url}/uploads",
        json={"filename": "a.jpg", "content_type": "image/jpeg"},
        headers=local_stack.headers(),
        timeout=30,
    ).json()
    requests.post(
        form["url"], data=form["fields"], files={"file": ("a.jpg", images.jpeg(32, 32), "image/jpeg")}, timeout=30
    )
    job = requests.post(
        f"{local_stack.api_url}/jobs",
        json={"source": {"upload_id": form["upload_id"]}, "outputs": [{"name": "a", "format": "png"}]},
        headers=local_stack.headers(),
        timeout=30,
    ).json()
    assert wait_for_job(local_stack, job["id"])["status"] == "succeeded"
    refused = requests.get(f"{local_stack.api_url}/jobs", headers={"X-API-Key": "ij_nobody"}, timeout=30)
    assert refused.status_code == 401

    # THEN the processor's line and the authorizer's are credited to them
    lines = log_lines(local_stack)
    succeeded = [line for line in lines if line.get("message") == "job succeeded" and line.get("job_id") == job["id"]]
    assert [line["function_name"] for line in succeeded] == ["ProcessFunction"]
    assert {line["function_name"] for line in lines if line.get("message") == "refused"} == {"AuthorizerFunction"}
