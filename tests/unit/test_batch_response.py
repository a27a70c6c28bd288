"""Partial batch responses: a record that fails is named, alone; the others are done."""

from __future__ import annotations

from typing import Any

import pytest

from imagejobs import batch_response
from imagejobs.batch_response import Message


def sqs_record(message_id: str, body: str, receive_count: int = 1) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": f"handle-{message_id}",
        "body": body,
        "attributes": {"ApproximateReceiveCount": str(receive_count), "SentTimestamp": "1795000000000"},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:imagejobs-JobsQueue",
        "awsRegion": "us-east-1",
    }


def stream_record(sequence: str, keys: dict[str, dict[str, str]]) -> dict[str, Any]:
    return {"eventName": "REMOVE", "dynamodb": {"Keys": keys, "SequenceNumber": sequence}}


def test_every_message_is_handled_and_only_the_failed_ones_are_named() -> None:
    handled: list[Message] = []

    def handle(message: Message) -> None:
        handled.append(message)
        if message.body == "poison":
            raise ValueError("not a message")

    event = {"Records": [sqs_record("m1", "a"), sqs_record("m2", "poison", 3), sqs_record("m3", "b", 2)]}

    assert batch_response.messages(event, handle) == {"batchItemFailures": [{"itemIdentifier": "m2"}]}
    assert [m.body for m in handled] == ["a", "poison", "b"]
    assert handled[1] == Message(
        message_id="m2",
        body="poison",
        receive_count=3,
        receipt_handle="handle-m2",
        source_arn="arn:aws:sqs:us-east-1:123456789012:imagejobs-JobsQueue",
    )


def test_a_batch_that_fails_whole_names_every_record_rather_than_raising() -> None:
    def handle(_: Message) -> None:
        raise RuntimeError("down")

    event = {"Records": [sqs_record("m1", "a"), sqs_record("m2", "b")]}

    assert batch_response.messages(event, handle) == {
        "batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m2"}]
    }


def test_a_malformed_message_fails_alone() -> None:
    broken = sqs_record("m1", "a")
    del broken["attributes"]

    answer = batch_response.messages({"Records": [broken, sqs_record("m2", "b")]}, lambda _: None)

    assert answer == {"batchItemFailures": [{"itemIdentifier": "m1"}]}


def test_a_stream_batch_hands_over_the_string_keys_and_names_failures_by_sequence_number() -> None:
    seen: list[dict[str, str]] = []

    def handle(keys: dict[str, str]) -> None:
        seen.append(keys)
        if keys["sk"] == "JOB#bad":
            raise OSError("S3 refused")

    event = {
        "Records": [
            stream_record("111", {"pk": {"S": "TENANT#t"}, "sk": {"S": "JOB#good"}}),
            stream_record("112", {"pk": {"S": "TENANT#t"}, "sk": {"S": "JOB#bad"}, "n": {"N": "1"}}),
        ]
    }

    assert batch_response.stream_keys(event, handle) == {"batchItemFailures": [{"itemIdentifier": "112"}]}
    assert seen == [{"pk": "TENANT#t", "sk": "JOB#good"}, {"pk": "TENANT#t", "sk": "JOB#bad"}]


def test_an_event_without_records_is_not_a_batch() -> None:
    with pytest.raises(KeyError):
        batch_response.messages({}, lambda _: None)


def test_a_planned_redelivery_is_one_line_and_anything_else_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    logged: list[tuple[str, str, dict[str, Any]]] = []
    for level in ("info", "exception"):
        monkeypatch.setattr(
            batch_response.logger, level, lambda message, extra, level=level: logged.append((level, message, extra))
        )

    def handle(message: Message) -> None:
        if message.body == "later":
            raise batch_response.RetryLaterError("callback attempt 2 failed; next in 60 s")
        raise ValueError("not a message")

    event = {"Records": [sqs_record("m1", "later"), sqs_record("m2", "poison")]}

    assert batch_response.messages(event, handle) == {
        "batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m2"}]
    }
    assert logged == [
        ("info", "record comes back later", {"record": "m1", "reason": "callback attempt 2 failed; next in 60 s"}),
        ("exception", "record failed: it will be delivered again", {"record": "m2"}),
    ]
