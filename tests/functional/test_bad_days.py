"""What `make soak` found, each as a test on moto: AWS failing around a job's attempt is retried soon
(not after the queue's 12-minute visibility timeout), a job's ending keeps one webhook-id however
often its event is published, and a create that failed halfway is finished by its retry with the same
Idempotency-Key rather than made twice."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from standardwebhooks import Webhook

from devstack.stack import Stack
from imagejobs.services import auth, processing, views
from imagejobs.store import bus, repository
from tests import images
from tests.conftest import CallbackReceiver
from tests.functional.conftest import Client, drain, drain_until, upload

OUTPUTS = [{"name": "small", "format": "png", "operations": [{"type": "resize", "width": 8}]}]


@pytest.fixture
def tenant(stack: Stack) -> Client:
    """A tenant of its own, so its job list holds only what a test made."""
    made = auth.create_tenant(f"bad days {uuid.uuid4().hex[:6]}", webhook_secret=stack.webhook_secret)
    return Client(stack, auth.create_key(made.id, "bad days"))


def once(replacing: Any, error: Exception) -> Any:
    """`replacing`, but raising `error` the first time it is called."""
    calls: list[object] = []

    def failing_first(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        if len(calls) == 1:
            raise error
        return replacing(*args, **kwargs)

    return failing_first


def test_a_job_whose_event_the_bus_refuses_is_announced_on_its_next_delivery_seconds_later(
    api: Client,
    stack: Stack,
    receiver: CallbackReceiver,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # GIVEN a bus that refuses the job's event once, and retries due at once
    monkeypatch.setattr(bus, "publish", once(bus.publish, bus.PublishError("refused")))
    monkeypatch.setattr(processing, "RETRY_DELAYS", (0, 0))
    uploaded = upload(api, images.jpeg(24, 24))
    created = api.post("/jobs", {"source": {"upload_id": uploaded}, "outputs": OUTPUTS, "callback_url": receiver.url})

    # WHEN the queues are drained (a message left for the visibility timeout would not come back)
    drain_until(stack, lambda: len(receiver.deliveries) >= 1)

    # THEN the failure was logged, the job ran once and was announced once, by its next delivery
    formatter = processing.logger.registered_formatter
    logged = [json.loads(formatter.format(record)) for record in caplog.records]
    failed = [line for line in logged if line["message"] == "delivery failed unexpectedly"]
    assert [(line["job_id"], line["attempt"]) for line in failed] == [(created.json()["id"], 1)]
    job = api.get(f"/jobs/{created.json()['id']}").json()
    assert (job["status"], job["attempts"], job["callback"]["status"]) == ("succeeded", 1, "delivered")
    assert len(receiver.deliveries) == 1


def test_a_job_whose_callback_is_recorded_while_it_is_announced_is_published_once(
    api: Client, stack: Stack, receiver: CallbackReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a callback recorded between the job's event and the mark that it was published
    published: list[str] = []
    real_publish = bus.publish

    def publish_then_recorded(detail_type: str, detail: Any) -> None:
        real_publish(detail_type, detail)
        published.append(detail.id)
        repository.update_job(detail.tenant_id, detail.id, lambda job: job.callback_attempted("pending", 1))

    monkeypatch.setattr(bus, "publish", publish_then_recorded)
    monkeypatch.setattr(processing, "RETRY_DELAYS", (0, 0))  # a failed announcement would come back at once
    uploaded = upload(api, images.jpeg(24, 24))
    created = api.post("/jobs", {"source": {"upload_id": uploaded}, "outputs": OUTPUTS, "callback_url": receiver.url})

    # WHEN it runs
    drain(stack)

    # THEN its event was published once
    assert published == [created.json()["id"]]


def test_an_ending_published_twice_is_called_back_with_one_webhook_id_and_a_retried_job_with_another(
    api: Client, stack: Stack, receiver: CallbackReceiver
) -> None:
    # GIVEN a job that failed (its upload is no image) and was called back
    uploaded = upload(api, b"not an image")
    created = api.post("/jobs", {"source": {"upload_id": uploaded}, "outputs": OUTPUTS, "callback_url": receiver.url})
    created = created.json()
    drain_until(stack, lambda: len(receiver.deliveries) >= 1)

    # WHEN its ending's event is published again (the mark that it was failed to be saved) ...
    job = repository.get_job(stack.tenant_id, created["id"])
    assert job is not None
    bus.publish("Job Failed", views.job_event(job))
    drain_until(stack, lambda: len(receiver.deliveries) >= 2)
    # ... and it is retried, and ends again
    assert api.post(f"/jobs/{created['id']}/retry", {}).status_code == 202
    drain_until(stack, lambda: len(receiver.deliveries) >= 3)

    # THEN the first ending's two callbacks share a webhook-id, and the second ending has its own
    first, again, retried = receiver.wait_for(3)
    assert first.headers["webhook-id"] == again.headers["webhook-id"]
    assert retried.headers["webhook-id"] != first.headers["webhook-id"]
    for delivery in (first, again, retried):
        assert Webhook(stack.webhook_secret).verify(delivery.body, delivery.headers)["type"] == "job.failed"
