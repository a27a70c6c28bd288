"""Lambda's partial batch responses, for the functions fed by SQS and by the table's stream: each
record is handled alone, and the answer names the records that failed, which alone come back (SQS
delivers them again, then parks them in the dead-letter queue; the stream retries from the first).

Powertools' batch utility did this, and cost about 60 ms of every cold start of these functions
(bench/coldstart.py): it imports asyncio for its async processor, and its event data classes, any one
of which imports all of them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from imagejobs.observability import logger

type Event = Mapping[str, Any]
type Answer = dict[str, list[dict[str, str]]]


class RetryLaterError(Exception):
    """A record's delivery is due again, as planned (a callback's receiver answered 503, a job's attempt
    failed and its retry is scheduled): it fails and comes back. Its message says why, and anything
    unexpected behind it was logged where it happened, so the boundary logs it in one line, without a
    traceback."""


@dataclass(frozen=True)
class Message:
    """An SQS record, as the handlers read it."""

    message_id: str
    body: str
    receive_count: int  # SQS's ApproximateReceiveCount: 1 on the first delivery
    receipt_handle: str
    source_arn: str

    @classmethod
    def of(cls, record: Event) -> Message:
        return cls(
            message_id=record["messageId"],
            body=record["body"],
            receive_count=int(record["attributes"]["ApproximateReceiveCount"]),
            receipt_handle=record["receiptHandle"],
            source_arn=record["eventSourceARN"],
        )


def messages(event: Event, handle: Callable[[Message], object]) -> Answer:
    """An SQS batch: a failed message is named by its message id."""
    return _each(event, lambda record: handle(Message.of(record)), lambda record: str(record["messageId"]))


def stream_keys(event: Event, handle: Callable[[dict[str, str]], object]) -> Answer:
    """A DynamoDB stream batch: each record's item keys (the string ones), by name; a failed record is
    named by its sequence number."""

    def keys(record: Event) -> dict[str, str]:
        found = (record.get("dynamodb") or {}).get("Keys") or {}
        return {name: value["S"] for name, value in found.items() if "S" in value}

    return _each(event, lambda record: handle(keys(record)), lambda record: str(record["dynamodb"]["SequenceNumber"]))


def _each(event: Event, handle: Callable[[Event], object], identify: Callable[[Event], str]) -> Answer:
    failed = []
    for record in event["Records"]:
        try:
            handle(record)
        except RetryLaterError as planned:
            logger.info("record comes back later", extra={"record": identify(record), "reason": str(planned)})
            failed.append({"itemIdentifier": identify(record)})
        except Exception:  # noqa: BLE001 - the batch's boundary: this record alone fails, logged, and comes back
            logger.exception("record failed: it will be delivered again", extra={"record": identify(record)})
            failed.append({"itemIdentifier": identify(record)})
    return {"batchItemFailures": failed}
