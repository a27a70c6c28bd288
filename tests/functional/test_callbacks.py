"""Callback delivery on moto: retried with growing delays (here a second: the stack's
CallbackRetryDelays parameter), stopped by 410, parked in the DLQ after the last attempt, and never
changing the job's result."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from standardwebhooks import Webhook

from devstack.stack import Stack
from imagejobs.services import callbacks
from imagejobs.store import tenants
from tests import images
from tests.conftest import CallbackReceiver
from tests.functional.conftest import Client, discard, drain, drain_until, upload

OUTPUTS = [{"name": "small", "format": "png", "operations": [{"type": "resize", "width": 8}]}]


def job_with_callback(api: Client, stack: Stack, receiver: CallbackReceiver) -> str:
    uploaded = upload(api, images.jpeg(32, 24))
    created = api.post("/jobs", {"source": {"upload_id": uploaded}, "outputs": OUTPUTS, "callback_url": receiver.url})
    assert created.status_code == 202
    drain(stack)
    return str(created.json()["id"])


def test_a_callback_answered_500_twice_is_delivered_on_the_third_attempt_with_the_same_id(
    api: Client, stack: Stack, receiver: CallbackReceiver
) -> None:
    receiver.statuses = [500, 500]

    job_id = job_with_callback(api, stack, receiver)
    drain_until(stack, lambda: len(receiver.deliveries) >= 3)

    deliveries = receiver.wait_for(3)
    assert len({d.headers["webhook-id"] for d in deliveries}) == 1
    for delivery in deliveries:
        payload = Webhook(stack.webhook_secret).verify(delivery.body, delivery.headers)
        assert payload["type"] == "job.succeeded"
    job = api.get(f"/jobs/{job_id}").json()
    assert job["status"] == "succeeded"
    assert job["callback"] == {"url": receiver.url, "status": "delivered", "attempts": 3}


def test_a_failing_callback_is_pending_between_attempts_and_never_changes_the_result(
    api: Client, stack: Stack, receiver: CallbackReceiver
) -> None:
    receiver.statuses = [503]

    job_id = job_with_callback(api, stack, receiver)

    job = api.get(f"/jobs/{job_id}").json()
    assert (job["status"], job["outputs"][0]["width"]) == ("succeeded", 8)
    assert job["callback"] == {"url": receiver.url, "status": "pending", "attempts": 1}
    drain_until(stack, lambda: len(receiver.deliveries) >= 2)
    assert api.get(f"/jobs/{job_id}").json()["callback"]["status"] == "delivered"


def test_a_delivery_that_fails_unexpectedly_comes_back_in_seconds_not_the_queues_timeout(
    api: Client, stack: Stack, receiver: CallbackReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN DynamoDB throttling the read of the tenant, on the callback's first delivery only
    get_tenant = tenants.get_tenant

    def throttled_once(tenant_id: str) -> object:
        monkeypatch.setattr(tenants, "get_tenant", get_tenant)
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "GetItem")

    monkeypatch.setattr(tenants, "get_tenant", throttled_once)
    monkeypatch.setattr(callbacks, "UNEXPECTED_RETRY", 1)

    # WHEN the job ends and its callback is delivered
    job_id = job_with_callback(api, stack, receiver)
    assert receiver.deliveries == []

    # THEN it is delivered once, on the next delivery a second later (the queue's own timeout is minutes)
    drain_until(stack, lambda: len(receiver.deliveries) >= 1, timeout=10)
    assert len(receiver.deliveries) == 1
    assert api.get(f"/jobs/{job_id}").json()["callback"] == {"url": receiver.url, "status": "delivered", "attempts": 2}


def test_410_gone_stops_the_retries(api: Client, stack: Stack, receiver: CallbackReceiver) -> None:
    receiver.statuses = [410]

    job_id = job_with_callback(api, stack, receiver)

    assert api.get(f"/jobs/{job_id}").json()["callback"] == {"url": receiver.url, "status": "failed", "attempts": 1}
    assert depth(stack, "CallbacksQueue") == 0
    assert depth(stack, "CallbacksDeadLetterQueue") == 0


def test_after_the_last_attempt_the_delivery_is_parked_in_the_dlq(
    api: Client, stack: Stack, receiver: CallbackReceiver
) -> None:
    # GIVEN a delivery that has failed every attempt but the last, and fails that one too
    receiver.statuses = [500] * 20
    job_id = job_with_callback(api, stack, receiver)
    sqs = stack.client("sqs")
    url = stack.template.refs["CallbacksQueue"]
    last = int(stack.template.body["Mappings"]["Queues"]["Callbacks"]["MaxReceiveCount"])
    drain_until(stack, lambda: depth(stack, "CallbacksQueue", visible_only=True) > 0)
    (message,) = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"]
    record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {"ApproximateReceiveCount": str(last)},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": stack.template.attributes["CallbacksQueue"]["Arn"],
    }

    # WHEN the last attempt fails
    response = stack.function("DeliverCallbackFunction").invoke({"Records": [record]})

    # THEN the job says so, and the message is left for SQS to park at once
    assert response == {"batchItemFailures": [{"itemIdentifier": message["MessageId"]}]}
    callback = api.get(f"/jobs/{job_id}").json()["callback"]
    assert callback == {"url": receiver.url, "status": "failed", "attempts": last}
    assert depth(stack, "CallbacksQueue", visible_only=True) == 1  # visible again now, not in hours
    discard(stack)
    assert json.loads(message["Body"])["detail"]["id"] == job_id


def depth(stack: Stack, logical_id: str, *, visible_only: bool = False) -> int:
    names = ["ApproximateNumberOfMessages"] + ([] if visible_only else ["ApproximateNumberOfMessagesNotVisible"])
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.template.refs[logical_id], AttributeNames=names
    )
    return sum(int(value) for value in attributes["Attributes"].values())
