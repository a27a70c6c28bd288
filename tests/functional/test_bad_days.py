"""What `make soak` found, each as a test on moto: AWS failing around a job's attempt is retried soon
(not after the queue's 12-minute visibility timeout), a job's ending keeps one webhook-id however
often its event is published, and a create that failed halfway is finished by its retry with the same
Idempotency-Key rather than made twice."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import requests
from standardwebhooks import Webhook

from devstack.stack import Stack
from imagejobs.errors import ConflictError
from imagejobs.services import accounts, creation, dead_letters, processing, views
from imagejobs.store import bus, queue, repository
from tests import images
from tests.conftest import CallbackReceiver
from tests.functional.conftest import Client, discard, drain, drain_until, upload, written_lines

OUTPUTS = [{"name": "small", "format": "png", "operations": [{"type": "resize", "width": 8}]}]


@pytest.fixture
def tenant(stack: Stack) -> Client:
    """A tenant of its own, so its job list holds only what a test made."""
    made = accounts.create_tenant(f"bad days {uuid.uuid4().hex[:6]}", webhook_secret=stack.webhook_secret)
    return Client(stack, accounts.create_key(made.id, "bad days"))


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
) -> None:
    # GIVEN a bus that refuses the job's event once (and no message of an earlier test left to take
    # that refusal), and retries due at once
    discard(stack)
    monkeypatch.setattr(bus, "publish", once(bus.publish, bus.PublishError("refused")))
    monkeypatch.setattr(processing, "RETRY_DELAYS", (0, 0))
    logged = written_lines(monkeypatch)
    uploaded = upload(api, images.jpeg(24, 24))
    created = api.post("/jobs", {"source": {"upload_id": uploaded}, "outputs": OUTPUTS, "callback_url": receiver.url})

    # WHEN the queues are drained (a message left for the visibility timeout would not come back)
    drain_until(stack, lambda: len(receiver.deliveries) >= 1)

    # THEN the failure was logged, the job ran once and was announced once, by its next delivery
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


def test_a_create_that_failed_after_recording_its_job_is_finished_by_its_retry_not_made_twice(
    tenant: Client, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the queue refusing the job's message once, after the job was recorded
    monkeypatch.setattr(queue, "send_job", once(queue.send_job, RuntimeError("SQS is down")))
    body = {"source": {"upload_id": upload(tenant, images.jpeg(16, 16))}, "outputs": OUTPUTS}
    drain(stack)  # the upload has landed: the job is queued as soon as it is made
    key = {"Idempotency-Key": str(uuid.uuid4())}

    # WHEN the client sends its request again, with the same Idempotency-Key
    failed = tenant.post("/jobs", body, headers=key)
    retried = tenant.post("/jobs", body, headers=key)

    # THEN it gets the one job, which runs
    assert (failed.status_code, retried.status_code) == (502, 202)
    assert [job["id"] for job in tenant.get("/jobs").json()["jobs"]] == [retried.json()["id"]]
    drain(stack)
    assert tenant.get(f"/jobs/{retried.json()['id']}").json()["status"] == "succeeded"


def test_a_job_whose_upload_lands_while_it_is_made_is_queued_even_when_another_writer_comes_first(
    tenant: Client, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an upload that lands after the job read it and before the job waits for it, and the
    # job's write that queues it meeting another writer once
    uploaded = upload(tenant, images.jpeg(16, 16))
    monkeypatch.setattr(repository, "wait_for_upload", lambda *_: False)  # "it has landed already"
    monkeypatch.setattr(repository, "save_job", once(repository.save_job, ConflictError("another writer")))

    # WHEN the job is made
    created = tenant.post("/jobs", {"source": {"upload_id": uploaded}, "outputs": OUTPUTS})

    # THEN it is queued (the write was made again on the job as it then was), and it runs
    assert (created.status_code, created.json()["status"]) == (202, "queued")
    drain(stack)
    assert tenant.get(f"/jobs/{created.json()['id']}").json()["status"] == "succeeded"


def test_a_one_call_upload_whose_create_failed_halfway_keeps_its_upload_on_retry(
    tenant: Client, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the job's record failing once, after its upload was recorded
    monkeypatch.setattr(repository, "put_new_job", once(repository.put_new_job, RuntimeError("throttled")))
    body = {"source": {"upload": {"filename": "a.jpg", "content_type": "image/jpeg"}}, "outputs": OUTPUTS}
    key = {"Idempotency-Key": str(uuid.uuid4())}

    failed = tenant.post("/jobs", body, headers=key)
    retried = tenant.post("/jobs", body, headers=key)

    # THEN the retry made the job, waiting for the same upload, which starts it when it lands
    assert (failed.status_code, retried.status_code) == (502, 202)
    job = retried.json()
    assert job["source"]["upload_id"] == f"upl_{job['id'].removeprefix('job_')}"
    form = job["upload"]
    sent = requests.post(form["url"], data=form["fields"], files={"file": ("a.jpg", images.jpeg(16, 16))}, timeout=30)
    assert sent.status_code == 204
    drain_until(stack, lambda: tenant.get(f"/jobs/{job['id']}").json()["status"] == "succeeded")
    assert [listed["id"] for listed in tenant.get("/jobs").json()["jobs"]] == [job["id"]]


def test_a_batch_whose_create_failed_halfway_is_finished_by_its_retry(
    tenant: Client, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the second of three jobs failing to be made, once
    made: list[str] = []
    real = creation.create_prepared

    def failing_second(*args: Any, **kwargs: Any) -> Any:
        made.append(kwargs["job_id"])
        if len(made) == 2:
            raise RuntimeError("throttled")
        return real(*args, **kwargs)

    monkeypatch.setattr(creation, "create_prepared", failing_second)
    jobs = [{"source": {"upload_id": upload(tenant, images.jpeg(16, 16))}, "outputs": OUTPUTS} for _ in range(3)]
    key = {"Idempotency-Key": str(uuid.uuid4())}

    failed = tenant.post("/batches", {"jobs": jobs}, headers=key)
    retried = tenant.post("/batches", {"jobs": jobs}, headers=key)

    # THEN the batch is the first attempt's, with its jobs, and it completes
    assert (failed.status_code, retried.status_code) == (502, 202)
    batch = retried.json()
    assert batch["job_ids"][0] == made[0]
    assert sorted(job["id"] for job in tenant.get("/jobs").json()["jobs"]) == sorted(batch["job_ids"])
    drain_until(stack, lambda: tenant.get(f"/batches/{batch['batch_id']}").json()["status"] == "completed")
    assert tenant.get(f"/batches/{batch['batch_id']}").json()["counts"]["succeeded"] == 3


def test_a_key_reused_with_another_body_after_a_failed_attempt_is_a_409(
    tenant: Client, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queue, "send_job", once(queue.send_job, RuntimeError("SQS is down")))
    body = {"source": {"upload_id": upload(tenant, images.jpeg(16, 16))}, "outputs": OUTPUTS}
    drain(stack)  # the upload has landed: the job is queued as soon as it is made
    key = {"Idempotency-Key": str(uuid.uuid4())}

    failed = tenant.post("/jobs", body, headers=key)
    other = tenant.post("/jobs", {**body, "metadata": {"other": True}}, headers=key)

    assert (failed.status_code, other.status_code) == (502, 409)
    assert other.json()["error"]["code"] == "conflict"
    assert len(tenant.get("/jobs").json()["jobs"]) == 1  # the first attempt's: its own retry would finish it


def output_objects(stack: Stack, job_id: str) -> list[str]:
    listing = stack.client("s3").list_objects_v2(
        Bucket=stack.template.refs["Bucket"], Prefix=f"outputs/{stack.tenant_id}/{job_id}/"
    )
    return [item["Key"] for item in listing.get("Contents", [])]


def test_a_job_whose_last_attempt_fails_after_storing_its_outputs_keeps_none(
    api: Client, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a job whose success can never be recorded (another writer always comes first)
    real_save = repository.save_job

    def conflicting(job: Any) -> Any:
        if job.status == "succeeded":
            raise ConflictError(f"job {job.id} was changed concurrently")
        return real_save(job)

    monkeypatch.setattr(repository, "save_job", conflicting)
    monkeypatch.setattr(processing, "RETRY_DELAYS", (0, 0))
    uploaded = upload(api, images.jpeg(24, 24))
    created = api.post("/jobs", {"source": {"upload_id": uploaded}, "outputs": OUTPUTS}).json()

    # WHEN every delivery renders and stores its outputs, then fails to record them
    drain(stack)

    # THEN the last one failed the job, and none of the objects the attempts stored stay
    job = api.get(f"/jobs/{created['id']}").json()
    assert (job["status"], job["error"]["code"], job["outputs"]) == ("failed", "internal", [])
    assert output_objects(stack, created["id"]) == []


def test_a_job_failed_from_the_dead_letter_queue_keeps_nothing_its_stopped_attempt_stored(
    api: Client, stack: Stack
) -> None:
    # GIVEN a job whose attempt stored an output, then was stopped (it stays `processing`)
    uploaded = upload(api, images.jpeg(24, 24))
    created = api.post("/jobs", {"source": {"upload_id": uploaded}, "outputs": OUTPUTS}).json()
    discard(stack)
    repository.update_job(stack.tenant_id, created["id"], lambda job: job.started())
    key = f"outputs/{stack.tenant_id}/{created['id']}/small.png"
    stack.client("s3").put_object(Bucket=stack.template.refs["Bucket"], Key=key, Body=images.png(8, 8))

    # WHEN its message reaches the dead-letter queue's consumer
    dead_letters.handle(json.dumps({"type": "job", "tenant_id": stack.tenant_id, "job_id": created["id"]}))

    # THEN the job failed, and keeps no object
    assert api.get(f"/jobs/{created['id']}").json()["error"]["code"] == "timeout"
    assert output_objects(stack, created["id"]) == []
