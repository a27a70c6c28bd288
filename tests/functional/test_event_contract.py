"""The bus's events and the callbacks' bodies are a public contract: what a job publishes and what
its callback receives validate against the committed functions/meta/events.schema.json, carry the
job document's fields, and never a storage key."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
from standardwebhooks import Webhook

from devstack.stack import Stack
from tests import images
from tests.conftest import CallbackReceiver
from tests.e2e.conftest import ROOT
from tests.functional.conftest import Client, drain, drain_until, upload

SCHEMA = json.loads((ROOT / "functions" / "meta" / "events.schema.json").read_text())
STORAGE_FIELDS = {"key", "content_type", "version", "request", "batch_id", "notified", "tier"}


def valid(instance: Any, definition: str) -> None:
    jsonschema.validate(instance, {**SCHEMA, "$ref": f"#/$defs/{definition}"})


def fields(value: Any) -> set[str]:
    """Every field name anywhere in a JSON value."""
    if isinstance(value, dict):
        return set(value) | {name for item in value.values() for name in fields(item)}
    if isinstance(value, list):
        return {name for item in value for name in fields(item)}
    return set()


def published_events(stack: Stack) -> list[dict[str, Any]]:
    """The events the callback rule routed to the callbacks queue (taken off it)."""
    sqs, url = stack.client("sqs"), stack.template.refs["CallbacksQueue"]
    found = []
    for _ in range(5):
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        for message in messages:
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        if found:
            return found
    return found


def test_a_job_event_is_the_job_document_with_its_tenant_and_its_callback_the_same(
    api: Client, stack: Stack, receiver: CallbackReceiver
) -> None:
    # GIVEN a job with a callback, run to its end
    uploaded = upload(api, images.jpeg(64, 48))
    body = {
        "source": {"upload_id": uploaded},
        "outputs": [{"name": "small", "format": "png", "operations": [{"type": "resize", "width": 16}]}],
        "callback_url": receiver.url,
        "metadata": {"order": "1234"},
    }
    job_id = api.post("/jobs", body).json()["id"]
    (jobs,) = (poller for poller in stack.pollers if poller.queue_url == stack.template.refs["JobsQueue"])
    while jobs.poll_once(wait_seconds=0):  # the processor only: the callbacks queue is read by this test
        pass

    # WHEN its event is read off the bus's callback rule, and its callback is delivered
    event = next(e for e in published_events(stack) if e["detail"].get("id") == job_id)
    document = api.get(f"/jobs/{job_id}").json()

    # THEN the event's detail is the job document (and its tenant), valid by the committed schema
    assert (event["source"], event["detail-type"]) == ("imagejobs", "Job Succeeded")
    valid(event["detail"], "JobEvent")
    detail = event["detail"]
    assert detail["tenant_id"] == stack.tenant_id
    for name in ("id", "status", "metadata", "created_at", "expires_at"):
        assert detail[name] == document[name]
    assert detail["source"] == {name: value for name, value in document["source"].items() if value is not None}
    assert [(o["name"], o["width"], o["bytes"]) for o in detail["outputs"]] == [
        (o["name"], o["width"], o["bytes"]) for o in document["outputs"]
    ]
    assert not fields(detail) & STORAGE_FIELDS
    assert not fields(document) & STORAGE_FIELDS


def test_a_delivered_callback_body_is_valid_by_the_schema_and_carries_fresh_links(
    api: Client, stack: Stack, receiver: CallbackReceiver
) -> None:
    uploaded = upload(api, images.jpeg(64, 48))
    body = {
        "source": {"upload_id": uploaded},
        "outputs": [{"name": "small", "format": "webp", "operations": [{"type": "resize", "width": 16}]}],
        "callback_url": receiver.url,
    }
    job_id = api.post("/jobs", body).json()["id"]
    drain(stack)

    (delivery,) = receiver.wait_for(1)
    payload = Webhook(stack.webhook_secret).verify(delivery.body, delivery.headers)

    valid(payload, "JobCallback")
    assert (payload["type"], payload["data"]["id"], payload["data"]["tenant_id"]) == (
        "job.succeeded",
        job_id,
        stack.tenant_id,
    )
    (output,) = payload["data"]["outputs"]
    assert output["url"].startswith("http")
    assert not fields(payload) & STORAGE_FIELDS


def test_a_batch_event_and_its_callback_are_the_batch_document_with_its_tenant(
    api: Client, stack: Stack, receiver: CallbackReceiver
) -> None:
    uploaded = upload(api, images.jpeg(32, 24))
    job = {"source": {"upload_id": uploaded}, "outputs": [{"name": "a", "format": "png"}]}
    created = api.post("/batches", {"jobs": [job, job], "callback_url": receiver.url}).json()
    drain_until(stack, lambda: any(json.loads(d.body)["type"] == "batch.completed" for d in receiver.deliveries))

    batch_payload = next(
        payload
        for payload in (Webhook(stack.webhook_secret).verify(d.body, d.headers) for d in receiver.deliveries)
        if payload["type"] == "batch.completed"
    )

    valid(batch_payload, "BatchCallback")
    data = batch_payload["data"]
    assert (data["id"], data["status"], data["counts"]["succeeded"]) == (created["batch_id"], "completed", 2)
    assert not fields(data) & STORAGE_FIELDS
