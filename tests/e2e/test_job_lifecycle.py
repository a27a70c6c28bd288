"""Issue 4 over HTTP against the local stack: list, retry, delete, a batch of three, idempotency
and a URL source served from loopback."""

from __future__ import annotations

import uuid

import requests

from tests.conftest import PHOTO, CallbackReceiver
from tests.e2e.conftest import LocalStack, wait_for_job

OUTPUTS = [{"name": "small", "format": "webp", "operations": [{"type": "resize", "width": 120}]}]


def call(stack: LocalStack, method: str, path: str, **kwargs: object) -> requests.Response:
    headers = {**stack.headers(), **kwargs.pop("headers", {})}  # type: ignore[dict-item]
    return requests.request(method, f"{stack.api_url}{path}", headers=headers, timeout=30, **kwargs)  # type: ignore[arg-type]


def upload(stack: LocalStack, data: bytes) -> str:
    form = call(stack, "POST", "/uploads", json={"filename": "a.jpg", "content_type": "image/jpeg"}).json()
    requests.post(form["url"], data=form["fields"], files={"file": ("a.jpg", data, "image/jpeg")}, timeout=30)
    return str(form["upload_id"])


def test_a_url_source_list_retry_and_delete(local_stack: LocalStack, origin: str) -> None:
    image_server = f"{origin}/photo.jpg"
    # a URL source, fetched from a server on loopback (the local stack allows loopback http)
    from_url = call(local_stack, "POST", "/jobs", json={"source": {"url": image_server}, "outputs": OUTPUTS}).json()
    done = wait_for_job(local_stack, from_url["id"])
    assert (done["status"], done["source"]["url"], done["outputs"][0]["width"]) == ("succeeded", image_server, 120)

    # a job that fails (its upload holds no image), then is retried once a real image is uploaded
    form = call(local_stack, "POST", "/uploads", json={"filename": "b.jpg", "content_type": "image/jpeg"}).json()
    requests.post(form["url"], data=form["fields"], files={"file": ("b.jpg", b"nope", "image/jpeg")}, timeout=30)
    failing = call(local_stack, "POST", "/jobs", json={"source": {"upload_id": form["upload_id"]}, "outputs": OUTPUTS})
    assert wait_for_job(local_stack, failing.json()["id"])["error"]["code"] == "unsupported_format"
    requests.post(form["url"], data=form["fields"], files={"file": ("b.jpg", PHOTO, "image/jpeg")}, timeout=30)
    retried = call(local_stack, "POST", f"/jobs/{failing.json()['id']}/retry")
    assert retried.status_code == 202
    assert wait_for_job(local_stack, failing.json()["id"])["status"] == "succeeded"

    # listed newest first, filtered by status
    listed = call(local_stack, "GET", "/jobs", params={"status": "succeeded", "limit": 2}).json()
    assert [job["id"] for job in listed["jobs"]] == [failing.json()["id"], from_url["id"]]

    # deleted: gone, and so is its image
    url = done["outputs"][0]["url"]
    assert call(local_stack, "DELETE", f"/jobs/{from_url['id']}").status_code == 204
    assert call(local_stack, "GET", f"/jobs/{from_url['id']}").status_code == 404
    assert requests.get(url, timeout=10).status_code == 404


def test_a_batch_of_three_with_idempotency_and_a_batch_callback(
    local_stack: LocalStack, receiver: CallbackReceiver
) -> None:
    body = {
        "jobs": [{"source": {"upload_id": upload(local_stack, PHOTO)}, "outputs": OUTPUTS} for _ in range(3)],
        "callback_url": receiver.url,
    }
    key = {"Idempotency-Key": str(uuid.uuid4())}

    first = call(local_stack, "POST", "/batches", json=body, headers=key)
    again = call(local_stack, "POST", "/batches", json=body, headers=key)
    other = call(local_stack, "POST", "/batches", json={**body, "metadata": {"changed": True}}, headers=key)

    assert first.status_code == 202
    assert again.json() == first.json()
    assert other.status_code == 409
    (delivery,) = receiver.wait_for(1, timeout=60)
    batch = call(local_stack, "GET", f"/batches/{first.json()['batch_id']}").json()
    assert batch["status"] == "completed"
    assert batch["counts"]["succeeded"] == 3
    assert b'"type":"batch.completed"' in delivery.body
