"""Batches: many jobs in one request, made whole or not at all, counted as they end, and one
signed `batch.completed` callback when the last has ended."""

from __future__ import annotations

import uuid

from standardwebhooks import Webhook

from devstack.stack import Stack
from tests import images
from tests.conftest import CallbackReceiver
from tests.functional.conftest import Client, drain, drain_until, upload

OUTPUTS = [{"name": "small", "format": "png", "operations": [{"type": "resize", "width": 8}]}]


def test_a_batch_of_three_completes_with_one_signed_callback(
    api: Client, stack: Stack, receiver: CallbackReceiver
) -> None:
    # GIVEN three jobs, one of them on an upload that holds no image
    sources = [upload(api, images.jpeg(16, 16)), upload(api, images.png(16, 16), "image/png"), upload(api, b"words")]
    body = {
        "jobs": [{"source": {"upload_id": source}, "outputs": OUTPUTS} for source in sources],
        "callback_url": receiver.url,
        "metadata": {"order": "77"},
    }

    # WHEN they are made as one batch and run
    created = api.post("/batches", body)
    assert created.status_code == 202
    batch_id, job_ids = created.json()["batch_id"], created.json()["job_ids"]
    assert len(job_ids) == 3
    drain_until(stack, lambda: len(receiver.deliveries) >= 1)

    # THEN the batch is completed with its counts, and one batch.completed callback came, signed
    batch = api.get(f"/batches/{batch_id}").json()
    assert batch["status"] == "completed"
    assert batch["counts"] == {
        "total": 3,
        "listed": 3,
        "awaiting_upload": 0,
        "queued": 0,
        "processing": 0,
        "succeeded": 2,
        "failed": 1,
    }
    assert [j["id"] for j in batch["jobs"]] == job_ids
    assert [j["status"] for j in batch["jobs"]] == ["succeeded", "succeeded", "failed"]
    (delivery,) = receiver.wait_for(1)
    payload = Webhook(stack.webhook_secret).verify(delivery.body, delivery.headers)
    assert payload["type"] == "batch.completed"
    assert payload["data"]["id"] == batch_id
    assert payload["data"]["metadata"] == {"order": "77"}
    assert api.get(f"/batches/{batch_id}").json()["callback"]["status"] == "delivered"
    assert all(api.get(f"/jobs/{job_id}").json()["status"] in ("succeeded", "failed") for job_id in job_ids)


def test_a_batch_with_one_bad_job_is_not_made_at_all(api: Client) -> None:
    good = {"source": {"upload_id": upload(api, images.jpeg(16, 16))}, "outputs": OUTPUTS}
    bad = {"source": {"upload_id": "upl_01M7YA9N5BT8MD9QV08S0WDDEP"}, "outputs": OUTPUTS}
    before = len(api.get("/jobs", params={"limit": 100}).json()["jobs"])

    response = api.post("/batches", {"jobs": [good, bad]})

    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["path"] == "jobs[1].source.upload_id"
    assert len(api.get("/jobs", params={"limit": 100}).json()["jobs"]) == before


def test_a_batch_is_limited_to_100_jobs(api: Client) -> None:
    job = {"source": {"upload_id": "upl_01M7YA9N5BT8MD9QV08S0WDDEP"}, "outputs": OUTPUTS}

    response = api.post("/batches", {"jobs": [job] * 101})

    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["path"] == "jobs"


def test_a_batch_honours_idempotency_keys(api: Client, stack: Stack) -> None:
    body = {"jobs": [{"source": {"upload_id": upload(api, images.jpeg(16, 16))}, "outputs": OUTPUTS}]}
    key = {"Idempotency-Key": str(uuid.uuid4())}

    first, second = api.post("/batches", body, headers=key), api.post("/batches", body, headers=key)
    changed = api.post("/batches", {**body, "metadata": {"x": 1}}, headers=key)

    assert first.json() == second.json()
    assert changed.status_code == 409
    drain(stack)


def test_another_tenants_batch_is_not_found(api: Client, other_tenant: Client, stack: Stack) -> None:
    body = {"jobs": [{"source": {"upload_id": upload(api, images.jpeg(16, 16))}, "outputs": OUTPUTS}]}
    batch_id = api.post("/batches", body).json()["batch_id"]
    drain(stack)

    assert other_tenant.get(f"/batches/{batch_id}").status_code == 404
    assert api.get(f"/batches/{batch_id}").json()["status"] == "completed"
