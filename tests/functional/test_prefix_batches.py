"""Prefix batches: one job per object under a prefix of a connected bucket, made page by page by the
fan-out function through its queue, counted once each, and one `batch.completed` when the listing
has ended and every job has ended.

The stack connects local-media and media (read and write) and grants the development tenant (`api`)
each whole; other tenants get the grants each test gives.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from standardwebhooks import Webhook

from devstack.stack import Stack
from imagejobs.settings import get_settings
from imagejobs.store import queue, repository
from tests import images
from tests.conftest import CallbackReceiver
from tests.functional.conftest import Client, drain, drain_until
from tests.functional.test_buckets import keys_under, put, tenant


@pytest.fixture
def folder() -> str:
    return f"p-{uuid.uuid4().hex[:12]}/"


def outputs(folder: str) -> list[dict[str, Any]]:
    """A small webp of each object, written to the media bucket under the object's own key."""
    return [
        {
            "name": "small",
            "format": "webp",
            "operations": [{"type": "resize", "width": 8}],
            "destination": {"bucket": "media", "key": f"{folder}out/{{source_key}}.{{ext}}"},
        }
    ]


def prefix_batch(folder: str, **source: Any) -> dict[str, Any]:
    return {"source": {"s3_prefix": {"bucket": "local-media", "prefix": folder, **source}}, "outputs": outputs(folder)}


def create(client: Client, body: dict[str, Any]) -> str:
    created = client.post("/batches", body)
    assert created.status_code == 202, created.text
    assert created.json()["job_ids"] == []
    return str(created.json()["batch_id"])


def fan_out_messages(stack: Stack) -> list[str]:
    """Takes the fan-out queue's messages off it (to deliver them as a test wants)."""
    sqs, url = stack.client("sqs"), stack.template.refs["FanOutQueue"]
    bodies = []
    while found := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in found:
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def deliver(stack: Stack, body: str, attempt: int = 1, queue_id: str = "FanOutQueue") -> dict[str, Any]:
    """One delivery of a fan-out message, as Lambda's SQS poller makes it."""
    record = {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": "handle",
        "body": body,
        "attributes": {"ApproximateReceiveCount": str(attempt)},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": stack.template.attributes[queue_id]["Arn"],
        "awsRegion": "us-east-1",
    }
    return dict(stack.function("FanOutFunction").invoke({"Records": [record]}) or {})


def test_a_prefix_becomes_one_job_per_matching_object_and_completes_once(
    api: Client, stack: Stack, folder: str, receiver: CallbackReceiver
) -> None:
    # GIVEN images under a prefix, with a text file, a folder marker and an image of another folder beside them
    for key in ("a.jpg", "b.PNG", "deeper/c.jpeg", "notes.txt", "empty/"):
        put(stack, "local-media", folder + key, b"" if key.endswith("/") else images.jpeg(24, 16))
    put(stack, "local-media", f"{folder[:-1]}-other/d.jpg", images.jpeg(24, 16))

    # WHEN a batch asks for every .jpg, .jpeg and .png under it
    batch_id = create(
        api,
        {
            **prefix_batch(folder, suffixes=[".jpg", ".JPEG", ".png"]),
            "callback_url": receiver.url,
            "metadata": {"x": 1},
        },
    )
    drain_until(stack, lambda: len(receiver.deliveries) >= 1)

    # THEN one job per matching object ran, each output landed at its key, and the batch says so
    batch = api.get(f"/batches/{batch_id}").json()
    assert batch["status"] == "completed"
    assert batch["kind"] == "prefix"
    assert batch["counts"] == {
        "total": 3,
        "listed": 3,
        "awaiting_upload": 0,
        "queued": 0,
        "processing": 0,
        "succeeded": 3,
        "failed": 0,
    }
    assert batch["listing"] == {"status": "listed", "pages": 1, "error": None}
    assert batch["source"]["s3_prefix"] == {
        "bucket": "local-media",
        "prefix": folder,
        "suffixes": [".jpeg", ".jpg", ".png"],
    }
    assert (batch["jobs"], batch["failed_jobs"], batch["next_failed_cursor"]) == ([], [], None)
    assert keys_under(stack, "media", f"{folder}out/") == [
        f"{folder}out/{folder}{key}.webp" for key in ("a.jpg", "b.PNG", "deeper/c.jpeg")
    ]
    (delivery,) = receiver.wait_for(1)
    payload = Webhook(stack.webhook_secret).verify(delivery.body, delivery.headers)
    assert (payload["type"], payload["data"]["id"], payload["data"]["counts"]["succeeded"]) == (
        "batch.completed",
        batch_id,
        3,
    )
    drain(stack)
    assert len(receiver.deliveries) == 1


def test_an_empty_prefix_completes_with_no_jobs(api: Client, stack: Stack, folder: str) -> None:
    batch_id = create(api, prefix_batch(folder))
    drain(stack)

    batch = api.get(f"/batches/{batch_id}").json()
    assert (batch["status"], batch["counts"]["total"], batch["listing"]["status"]) == ("completed", 0, "listed")


def test_a_page_delivered_again_makes_no_job_twice_and_counts_none_twice(
    api: Client, stack: Stack, folder: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN five objects, and a first delivery of the page that stops after recording its jobs
    for index in range(5):
        put(stack, "local-media", f"{folder}{index}.png", images.png(8, 8))
    batch_id = create(api, prefix_batch(folder))
    (page,) = fan_out_messages(stack)

    def lost(tenant_id: str, job_ids: list[str]) -> None:
        raise queue.QueueSendError("the function stopped here")

    with monkeypatch.context() as patch:
        patch.setattr(queue, "send_jobs", lost)
        assert deliver(stack, page)["batchItemFailures"]  # back to the queue
    after_first = repository.get_batch(stack.tenant_id, batch_id)
    assert after_first is not None
    assert (after_first.listed, after_first.page, after_first.listing) == (0, 0, "listing")  # counted with the move on
    made, _ = repository.batch_jobs_with_status(stack.tenant_id, batch_id, "queued", limit=100, after=None)
    assert len(made) == 5  # recorded, never queued

    # WHEN the page is delivered again, twice (a redelivery and a duplicate)
    assert deliver(stack, page, attempt=2) == {"batchItemFailures": []}
    assert deliver(stack, page, attempt=3) == {"batchItemFailures": []}
    drain(stack)

    # THEN there are five jobs, each counted and run once
    batch = api.get(f"/batches/{batch_id}").json()
    assert batch["status"] == "completed"
    assert (batch["counts"]["listed"], batch["counts"]["succeeded"], batch["listing"]["pages"]) == (5, 5, 1)
    ids, _ = repository.batch_jobs_with_status(stack.tenant_id, batch_id, "succeeded", limit=100, after=None)
    assert len(ids) == len(set(ids)) == 5
    assert len(keys_under(stack, "media", f"{folder}out/")) == 5


def test_a_job_deleted_before_it_ran_counts_as_failed_and_the_batch_still_completes_once(
    api: Client, stack: Stack, folder: str, receiver: CallbackReceiver
) -> None:
    # GIVEN a prefix batch of three images, listed and queued but not run yet
    for index in range(3):
        put(stack, "local-media", f"{folder}{index}.png", images.png(8, 8))
    batch_id = create(api, {**prefix_batch(folder), "callback_url": receiver.url})
    (page,) = fan_out_messages(stack)
    assert deliver(stack, page) == {"batchItemFailures": []}
    queued, _ = repository.batch_jobs_with_status(stack.tenant_id, batch_id, "queued", limit=100, after=None)
    assert len(queued) == 3

    # WHEN one of its jobs is deleted, then the queues run (its message too)
    assert api.request("DELETE", f"/jobs/{queued[0]}").status_code == 204
    drain_until(stack, lambda: len(receiver.deliveries) >= 1)

    # THEN the batch completed once, the deleted job counted as failed and its output never written
    batch = api.get(f"/batches/{batch_id}").json()
    assert batch["status"] == "completed"
    assert (batch["counts"]["succeeded"], batch["counts"]["failed"], batch["counts"]["total"]) == (2, 1, 3)
    assert len(keys_under(stack, "media", f"{folder}out/")) == 2
    assert api.get(f"/jobs/{queued[0]}").status_code == 404

    # AND deleting a job that had ended changes no count
    ended, _ = repository.batch_jobs_with_status(stack.tenant_id, batch_id, "succeeded", limit=100, after=None)
    assert api.request("DELETE", f"/jobs/{ended[0]}").status_code == 204
    drain(stack)
    counts = api.get(f"/batches/{batch_id}").json()["counts"]
    assert (counts["succeeded"], counts["failed"]) == (2, 1)
    assert len(receiver.deliveries) == 1


def test_a_batch_of_listed_jobs_completes_when_a_job_is_deleted_before_it_ran(
    api: Client, stack: Stack, folder: str
) -> None:
    # GIVEN a batch of two jobs on images of a connected bucket, not run yet
    for name in ("a", "b"):
        put(stack, "local-media", f"{folder}{name}.jpg", images.jpeg(16, 16))
    jobs = [
        {"source": {"s3": {"bucket": "local-media", "key": f"{folder}{name}.jpg"}}, "outputs": outputs(folder)}
        for name in ("a", "b")
    ]
    created = api.post("/batches", {"jobs": jobs}).json()

    # WHEN its first job is deleted, then the queues run
    assert api.request("DELETE", f"/jobs/{created['job_ids'][0]}").status_code == 204
    drain(stack)

    # THEN the batch completed with the other job succeeded, the deleted one no longer among its jobs
    batch = api.get(f"/batches/{created['batch_id']}").json()
    assert (batch["status"], batch["counts"]["succeeded"], batch["counts"]["failed"]) == ("completed", 1, 0)
    assert batch["jobs"] == [{"id": created["job_ids"][1], "status": "succeeded"}]


def test_pages_follow_each_other_through_the_queue_up_to_the_limit(
    api: Client, stack: Stack, folder: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN pages of two keys, and a limit of five jobs a batch, with seven objects
    monkeypatch.setattr("imagejobs.store.buckets.LIST_PAGE_KEYS", 2)
    monkeypatch.setenv("MAX_PREFIX_BATCH_JOBS", "5")
    get_settings.cache_clear()
    try:
        for index in range(7):
            put(stack, "local-media", f"{folder}{index}.png", images.png(8, 8))
        batch_id = create(api, prefix_batch(folder))

        # WHEN its pages are listed one message after the other
        messages = 0
        while bodies := fan_out_messages(stack):
            messages += len(bodies)
            for body in bodies:
                deliver(stack, body)
        drain(stack)
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()

    # THEN it made the first five, in key order, and says it stopped there
    assert messages == 3
    batch = api.get(f"/batches/{batch_id}").json()
    assert batch["listing"] == {"status": "truncated", "pages": 3, "error": None}
    assert (batch["status"], batch["counts"]["total"], batch["counts"]["succeeded"]) == ("completed", 5, 5)
    assert keys_under(stack, "media", f"{folder}out/") == [f"{folder}out/{folder}{i}.png.webp" for i in range(5)]


def test_failed_jobs_are_listed_with_their_codes_and_a_retry_runs_only_them(
    api: Client, stack: Stack, folder: str, receiver: CallbackReceiver
) -> None:
    # GIVEN a prefix with two images and two objects that are not images
    for key in ("good-1.jpg", "good-2.jpg"):
        put(stack, "local-media", folder + key, images.jpeg(16, 16))
    for key in ("bad-1.jpg", "bad-2.jpg"):
        put(stack, "local-media", folder + key, b"not an image")
    batch_id = create(api, {**prefix_batch(folder), "callback_url": receiver.url})
    drain_until(stack, lambda: len(receiver.deliveries) >= 1)

    # THEN the batch completed with two failures, named with their keys and codes
    batch = api.get(f"/batches/{batch_id}").json()
    assert (batch["counts"]["succeeded"], batch["counts"]["failed"], batch["counts"]["queued"]) == (2, 2, 0)
    failed = {job["source_key"]: job["error"]["code"] for job in batch["failed_jobs"]}
    assert failed == {f"{folder}bad-1.jpg": "unsupported_format", f"{folder}bad-2.jpg": "unsupported_format"}
    succeeded_before = {
        job_id: api.get(f"/jobs/{job_id}").json()["attempts"]
        for job_id in repository.batch_jobs_with_status(stack.tenant_id, batch_id, "succeeded", limit=10, after=None)[0]
    }

    # WHEN the objects are fixed and the batch retried
    for key in ("bad-1.jpg", "bad-2.jpg"):
        put(stack, "local-media", folder + key, images.jpeg(16, 16))
    retried = api.post(f"/batches/{batch_id}/retry", None)
    assert retried.status_code == 202, retried.text
    assert retried.json()["status"] == "processing"
    assert api.post(f"/batches/{batch_id}/retry", None).status_code == 409  # once at a time
    drain_until(stack, lambda: len(receiver.deliveries) >= 2)

    # THEN only the failed jobs ran again, and the batch completed again, with a callback of its own
    batch = api.get(f"/batches/{batch_id}").json()
    assert batch["status"] == "completed"
    assert (batch["counts"]["succeeded"], batch["counts"]["failed"], batch["counts"]["total"]) == (4, 0, 4)
    assert batch["failed_jobs"] == []
    for job_id, attempts in succeeded_before.items():
        assert api.get(f"/jobs/{job_id}").json()["attempts"] == attempts
    first, second = receiver.wait_for(2)
    assert first.headers["webhook-id"] != second.headers["webhook-id"]
    assert json.loads(second.body)["data"]["counts"]["succeeded"] == 4
    assert api.post(f"/batches/{batch_id}/retry", None).status_code == 409  # nothing failed


def test_a_batch_of_listed_jobs_retries_its_failed_jobs_too(api: Client, stack: Stack, folder: str) -> None:
    put(stack, "local-media", f"{folder}later.jpg", b"not yet")
    job = {"source": {"s3": {"bucket": "local-media", "key": f"{folder}later.jpg"}}, "outputs": outputs(folder)}
    good = {**job, "source": {"s3": {"bucket": "local-media", "key": f"{folder}now.jpg"}}}
    put(stack, "local-media", f"{folder}now.jpg", images.jpeg(16, 16))
    created = api.post("/batches", {"jobs": [job, good]}).json()
    drain(stack)
    batch = api.get(f"/batches/{created['batch_id']}").json()
    assert (batch["status"], batch["counts"]["failed"], batch["kind"]) == ("completed", 1, "jobs")
    assert [failed["id"] for failed in batch["failed_jobs"]] == [created["job_ids"][0]]

    put(stack, "local-media", f"{folder}later.jpg", images.jpeg(16, 16))
    assert api.post(f"/batches/{created['batch_id']}/retry", None).status_code == 202
    drain(stack)

    batch = api.get(f"/batches/{created['batch_id']}").json()
    assert (batch["status"], batch["counts"]["succeeded"], batch["counts"]["failed"]) == ("completed", 2, 0)
    assert [j["status"] for j in batch["jobs"]] == ["succeeded", "succeeded"]


def test_a_listing_whose_messages_all_failed_ends_failed_and_the_batch_completes(
    api: Client, stack: Stack, folder: str
) -> None:
    put(stack, "local-media", f"{folder}a.png", images.png(8, 8))
    batch_id = create(api, prefix_batch(folder))
    (page,) = fan_out_messages(stack)

    deliver(stack, page, queue_id="FanOutDeadLetterQueue")  # where SQS parks it after its last delivery

    batch = api.get(f"/batches/{batch_id}").json()
    assert batch["status"] == "completed"
    assert batch["listing"]["status"] == "failed"
    assert batch["listing"]["error"]["code"] == "internal"
    assert batch["counts"]["total"] == 0


# ---- refusals -------------------------------------------------------------------------------------


def refusal(client: Client, body: dict[str, Any]) -> dict[str, Any]:
    answer = client.post("/batches", body)
    assert answer.status_code == 422, answer.text
    return dict(answer.json()["error"])


def test_another_tenants_prefix_is_refused_as_a_bucket_that_does_not_exist(stack: Stack, folder: str) -> None:
    owner = tenant(stack, (f"s3://local-media/{folder}", "rw"), ("s3://media/", "rw"))
    stranger = tenant(stack, ("s3://media/", "rw"))
    granted = prefix_batch(folder)
    assert owner.post("/batches", granted).status_code == 202

    theirs = refusal(stranger, granted)
    nowhere = refusal(stranger, {**granted, "source": {"s3_prefix": {"bucket": "no-such-bucket", "prefix": folder}}})

    assert theirs == nowhere
    assert theirs["details"] == [{"path": "source.s3_prefix.bucket", "message": theirs["details"][0]["message"]}]


def test_a_prefix_wider_than_the_grant_is_refused_naming_the_prefix(stack: Stack, folder: str) -> None:
    narrow = tenant(stack, (f"s3://local-media/{folder}mine/", "r"), ("s3://media/", "rw"))

    error = refusal(narrow, prefix_batch(folder))

    assert error["details"][0]["path"] == "source.s3_prefix.prefix"
    assert narrow.post("/batches", prefix_batch(f"{folder}mine/")).status_code == 202


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"suffixes": []}, "source.s3_prefix.suffixes"),
        ({"suffixes": ["a/b"]}, "source.s3_prefix.suffixes"),
        ({"suffixes": ["x" * 33]}, "source.s3_prefix.suffixes"),
        ({"prefix": "a\nb"}, "source.s3_prefix.prefix"),
        ({"bucket": "No_Such"}, "source.s3_prefix.bucket"),
    ],
)
def test_a_bad_prefix_source_is_refused_naming_the_field(api: Client, folder: str, change: dict, path: str) -> None:
    body = prefix_batch(folder)
    body["source"]["s3_prefix"].update(change)

    assert refusal(api, body)["details"][0]["path"] == path


def test_outputs_are_checked_as_each_job_would_be(api: Client, folder: str) -> None:
    body = prefix_batch(folder)
    body["outputs"][0]["destination"]["key"] = "{nope}.webp"
    assert refusal(api, body)["details"][0]["path"] == "outputs[0].destination.key"
    assert refusal(api, {**prefix_batch(folder), "outputs": []})["details"][0]["path"] == "outputs"
    both = refusal(api, {**prefix_batch(folder), "jobs": [{"source": {"url": "https://a.example/x.jpg"}}]})
    assert both["details"][0]["path"] == "source"
