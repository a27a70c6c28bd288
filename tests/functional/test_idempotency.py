"""Idempotency-Key on POST /v1/jobs: the same key and body give the same job; another body is a 409."""

from __future__ import annotations

import uuid

from devstack.stack import Stack
from imagejobs.services import accounts
from tests import images
from tests.functional.conftest import Client, upload

OUTPUTS = [{"name": "small", "format": "png", "operations": [{"type": "resize", "width": 8}]}]


def test_the_same_key_and_body_give_the_same_job_made_once(stack: Stack) -> None:
    tenant = accounts.create_tenant("idempotent")
    client = Client(stack, accounts.create_key(tenant.id, "idempotent"))
    body = {"source": {"upload_id": upload(client, images.jpeg(16, 16))}, "outputs": OUTPUTS}
    key = str(uuid.uuid4())

    first = client.post("/jobs", body, headers={"Idempotency-Key": key})
    second = client.post("/jobs", body, headers={"idempotency-key": key})

    assert (first.status_code, second.status_code) == (202, 202)
    assert second.json() == first.json()
    assert [job["id"] for job in client.get("/jobs").json()["jobs"]] == [first.json()["id"]]


def test_the_same_key_with_another_body_is_a_409(api: Client) -> None:
    uploaded = upload(api, images.jpeg(16, 16))
    key = {"Idempotency-Key": str(uuid.uuid4())}
    api.post("/jobs", {"source": {"upload_id": uploaded}, "outputs": OUTPUTS}, headers=key)

    response = api.post(
        "/jobs", {"source": {"upload_id": uploaded}, "outputs": OUTPUTS, "ttl_seconds": 600}, headers=key
    )

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"


def test_keys_are_scoped_by_tenant(api: Client, other_tenant: Client) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    mine = api.post(
        "/jobs", {"source": {"upload_id": upload(api, images.jpeg(16, 16))}, "outputs": OUTPUTS}, headers=key
    )

    theirs = other_tenant.post(
        "/jobs", {"source": {"upload_id": upload(other_tenant, images.jpeg(16, 16))}, "outputs": OUTPUTS}, headers=key
    )

    assert theirs.status_code == 202
    assert theirs.json()["id"] != mine.json()["id"]


def test_without_a_key_every_request_makes_a_job(api: Client) -> None:
    body = {"source": {"upload_id": upload(api, images.jpeg(16, 16))}, "outputs": OUTPUTS}

    assert api.post("/jobs", body).json()["id"] != api.post("/jobs", body).json()["id"]
