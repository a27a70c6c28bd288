"""The local stack's fault injector (devstack/faults.py) on moto: the errors AWS answers, raised by
botocore as its own, retried as botocore retries them, and counted; and SQS's odd deliveries."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.retries import standard

from devstack.faults import Faults, FaultSpecError
from devstack.stack import Stack

RETRIES = Config(retries={"mode": "standard", "max_attempts": 4})  # as imagejobs.store.aws makes its clients


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's retries at once: the tests count attempts, not seconds."""
    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0)


def client(stack: Stack, service: str) -> Any:
    return boto3.client(service, endpoint_url=stack.aws_url, region_name="us-east-1", config=RETRIES)


def test_the_spec_is_kinds_and_rates_with_a_seed() -> None:
    faults = Faults.parse("seed=3, s3_put=0.5,ddb_conflict=1")

    assert faults is not None
    assert (faults.rates, faults.seed) == ({"s3_put": 0.5, "ddb_conflict": 1.0}, 3)
    assert Faults.parse("") is None
    with pytest.raises(FaultSpecError, match="no fault s3_delete"):
        Faults.parse("s3_delete=0.1")
    with pytest.raises(FaultSpecError, match="between 0 and 1"):
        Faults.parse("s3_put=5")
    with pytest.raises(FaultSpecError, match="kind=rate"):
        Faults.parse("s3_put")


def test_s3_writes_fail_as_s3_fails_and_botocore_retries_absorb_some(stack: Stack) -> None:
    # GIVEN an S3 client every call of which meets a fault lasting 1 to 5 of its 5 attempts
    s3 = client(stack, "s3")
    faults = Faults({"s3_put": 1.0}, seed=11)
    faults.install([s3])
    bucket = stack.template.refs["Bucket"]

    # WHEN it writes 30 objects
    raised: list[str] = []
    for n in range(30):
        try:
            s3.put_object(Bucket=bucket, Key=f"faults/{n}", Body=b"x")
        except ClientError as error:
            raised.append(error.response["Error"]["Code"])

    # THEN the calls whose fault outlasted the retries raised S3's own errors, the others wrote
    counts = faults.counts()["s3_put"]
    assert 0 < len(raised) < 30
    assert set(raised) <= {"SlowDown", "InternalError"}
    assert counts["surfaced"] == len(raised)
    assert counts["injected"] >= 30 + 4 * len(raised)  # every call failed once at least; a raised one 5 times
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="faults/").get("KeyCount", 0)
    assert listed == 30 - len(raised)


def test_dynamodb_throttles_with_its_own_exceptions(stack: Stack) -> None:
    dynamodb = client(stack, "dynamodb")
    faults = Faults({"ddb_throttle": 1.0}, seed=5)
    faults.install([dynamodb])
    table = stack.template.refs["Table"]

    raised: list[ClientError] = []
    for _ in range(40):
        try:
            dynamodb.get_item(TableName=table, Key={"pk": {"S": "nobody"}, "sk": {"S": "nothing"}})
        except ClientError as error:
            raised.append(error)

    assert 0 < len(raised) < 40
    codes = [error.response["Error"]["Code"] for error in raised]
    assert set(codes) <= {"ProvisionedThroughputExceededException", "ThrottlingException"}
    throughput = dynamodb.exceptions.ProvisionedThroughputExceededException  # botocore's own class for it
    assert all(isinstance(e, throughput) for e, code in zip(raised, codes, strict=True) if code == throughput.__name__)
    assert faults.counts()["ddb_throttle"]["surfaced"] == len(raised)


def test_a_conflict_meets_only_optimistic_lock_writes_and_writes_nothing(stack: Stack) -> None:
    dynamodb = client(stack, "dynamodb")
    Faults({"ddb_conflict": 1.0}).install([dynamodb])
    table = stack.template.refs["Table"]
    key = {"pk": {"S": f"FAULTS#{uuid.uuid4()}"}, "sk": {"S": "ITEM"}}
    dynamodb.put_item(TableName=table, Item={**key, "version": {"N": "1"}})  # no condition: never met

    with pytest.raises(dynamodb.exceptions.ConditionalCheckFailedException):
        dynamodb.put_item(
            TableName=table,
            Item={**key, "version": {"N": "2"}},
            ConditionExpression="version = :read",
            ExpressionAttributeValues={":read": {"N": "1"}},
        )

    assert dynamodb.get_item(TableName=table, Key=key)["Item"]["version"] == {"N": "1"}
    dynamodb.put_item(TableName=table, Item={**key, "other": {"S": "x"}}, ConditionExpression="attribute_exists(pk)")


def test_the_bus_refuses_an_event_as_eventbridge_does(stack: Stack) -> None:
    events = client(stack, "events")
    faults = Faults({"events_put": 1.0})
    faults.install([events])

    answer = events.put_events(Entries=[{"Source": "faults", "DetailType": "t", "Detail": "{}"}])

    assert answer["FailedEntryCount"] == 1
    assert answer["Entries"][0]["ErrorCode"] == "InternalFailure"
    assert faults.counts()["events_put"] == {"injected": 1, "surfaced": 1}


def receive_all(sqs: Any, queue_url: str, seconds: float) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found += sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    return found


def test_a_duplicate_is_handed_now_and_delivered_again_later(stack: Stack) -> None:
    sqs = stack.client("sqs")
    queue_url = sqs.create_queue(QueueName=f"faults-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps({"n": 1}))
    faults = Faults({"sqs_duplicate": 1.0}, longest_delay=1)

    handed = faults.deliveries(sqs, queue_url, sqs.receive_message(QueueUrl=queue_url)["Messages"])
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=handed[0]["ReceiptHandle"])

    assert [m["Body"] for m in handed] == ['{"n": 1}']
    assert [m["Body"] for m in receive_all(sqs, queue_url, 3)] == ['{"n": 1}']
    assert faults.counts()["sqs_duplicate"]["injected"] == 1


def test_a_delayed_message_is_overtaken_then_delivered(stack: Stack) -> None:
    sqs = stack.client("sqs")
    queue_url = sqs.create_queue(QueueName=f"faults-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    sqs.send_message(QueueUrl=queue_url, MessageBody="first")
    faults = Faults({"sqs_delay": 1.0}, longest_delay=1)

    handed = faults.deliveries(sqs, queue_url, sqs.receive_message(QueueUrl=queue_url)["Messages"])
    sqs.send_message(QueueUrl=queue_url, MessageBody="second")

    assert handed == []
    assert [m["Body"] for m in receive_all(sqs, queue_url, 3)] == ["second", "first"]
