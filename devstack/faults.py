"""Bad days on the local stack: AWS answering errors, and SQS delivering twice or late, at random.

Off unless asked for (`IMAGEJOBS_FAULTS`, or `Stack(faults=...)`), as comma-separated `kind=rate`
pairs and an optional `seed=N`: `"seed=7,s3_put=0.05,ddb_throttle=0.02,sqs_duplicate=0.05"`.

The AWS faults are answered through botocore's own event hooks on the clients the functions use
(`imagejobs.store.aws`), as HTTP responses the real services send, so botocore parses them into its
real `ClientError`s and its retry policy sees them as it would see AWS's:

| kind | what the functions' calls meet |
|---|---|
| `s3_put` | S3 PutObject answered 503 `SlowDown` or 500 `InternalError` |
| `s3_get` | S3 GetObject answered 500 `InternalError` |
| `ddb_throttle` | any DynamoDB call answered 400 `ProvisionedThroughputExceededException` or `ThrottlingException` |
| `ddb_conflict` | an optimistic-lock write (a condition on `version`) answered `ConditionalCheckFailedException`, |
|   | as when another writer came first |
| `events_put` | EventBridge PutEvents answered 200 with the entry failed (`InternalFailure`) |
| `sqs_duplicate` | a message received from a queue is delivered again later (a copy is sent back) |
| `sqs_delay` | a message received from a queue is held back 1 to 10 s, so messages behind it overtake it |

The rate of a retried kind (`s3_*`, `ddb_throttle`) is the chance that a call meets the fault; the
fault then lasts 1 to N of the call's attempts (N, the client's total attempts, drawn evenly), so
botocore's retries absorb most and the functions' code sees the rest. The others are never retried
by botocore: the code sees every one. `counts()` tells, per kind, how many attempts or deliveries
were hit (`injected`) and how many errors reached the functions' code (`surfaced`).
"""

from __future__ import annotations

import json
import random
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse

RETRIED = ("s3_put", "s3_get", "ddb_throttle")
KINDS = (*RETRIED, "ddb_conflict", "events_put", "sqs_duplicate", "sqs_delay")
LONGEST_DELAY = 10  # seconds an sqs_delay holds a message back at most


class FaultSpecError(ValueError):
    """IMAGEJOBS_FAULTS names a kind that does not exist, or a rate that is not a probability."""


class _Body:
    """An HTTP response body as botocore reads it (`raw.stream()`)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Any:
        yield self.data


def _response(url: str, status: int, headers: dict[str, str], body: bytes) -> AWSResponse:
    return AWSResponse(url, status, headers, _Body(body))


def _s3_error(url: str, status: int, code: str, message: str) -> AWSResponse:
    body = f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code><Message>{message}</Message></Error>"
    return _response(url, status, {"Content-Type": "application/xml"}, body.encode())


def _dynamodb_error(url: str, code: str, message: str) -> AWSResponse:
    body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message})
    return _response(url, 400, {"Content-Type": "application/x-amz-json-1.0"}, body.encode())


@dataclass
class Faults:
    rates: dict[str, float]
    seed: int = 0
    longest_delay: int = LONGEST_DELAY  # seconds an sqs_delay or a duplicate comes later, at most
    injected: Counter[str] = field(default_factory=Counter)
    surfaced: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        unknown = self.rates.keys() - set(KINDS)
        if unknown:
            known = ", ".join(KINDS)
            raise FaultSpecError(f"IMAGEJOBS_FAULTS: no fault {', '.join(sorted(unknown))}; say one of {known}")
        wrong = [kind for kind, rate in self.rates.items() if not 0 <= rate <= 1]
        if wrong:
            raise FaultSpecError(f"IMAGEJOBS_FAULTS: the rate of {', '.join(wrong)} is not between 0 and 1")
        self._random = random.Random(self.seed)  # noqa: S311 (reproducible draws, not secrets)
        self._lock = threading.Lock()
        self._call = threading.local()  # the fault the current call meets: (kind, attempts still to fail)

    @classmethod
    def parse(cls, spec: str) -> Faults | None:
        """`"seed=7,s3_put=0.05,..."` as faults; None for an empty spec (no faults)."""
        pairs = [pair.strip() for pair in spec.split(",") if pair.strip()]
        if not pairs:
            return None
        try:
            values = dict(pair.split("=", 1) for pair in pairs)
            seed = int(values.pop("seed", "0"))
            return cls({kind: float(rate) for kind, rate in values.items()}, seed)
        except ValueError as error:
            if isinstance(error, FaultSpecError):
                raise
            raise FaultSpecError(f"IMAGEJOBS_FAULTS: {spec!r} is not kind=rate,...[,seed=N]") from error

    def _draw(self, kind: str) -> bool:
        rate = self.rates.get(kind, 0.0)
        with self._lock:
            return rate > 0 and self._random.random() < rate

    def _count(self, counter: Counter[str], kind: str) -> None:
        with self._lock:
            counter[kind] += 1

    def counts(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {kind: {"injected": self.injected[kind], "surfaced": self.surfaced[kind]} for kind in self.rates}

    # ---- AWS calls -------------------------------------------------------------------------

    def install(self, clients: list[Any]) -> None:
        """Hooks these botocore clients (those the functions' code calls AWS with)."""
        for aws in clients:
            events = aws.meta.events
            service = aws.meta.service_model.service_id.hyphenize()
            attempts = int(aws.meta.config.retries.get("total_max_attempts", 1))
            events.register(f"before-call.{service}", self._before_call(service, attempts), unique_id="faults-call")
            events.register(f"before-send.{service}", self._before_send, unique_id="faults-send")
            events.register(f"after-call.{service}", self._after_call, unique_id="faults-after")

    def _before_call(self, service: str, attempts: int) -> Any:
        def before_call(model: Any, **_: Any) -> None:
            kind = {("s3", "PutObject"): "s3_put", ("s3", "GetObject"): "s3_get"}.get((service, model.name))
            if service == "dynamodb":
                kind = "ddb_throttle"
            streak = 0
            if kind is not None and self._draw(kind):
                with self._lock:
                    streak = self._random.randint(1, attempts)
            self._call.fault = (kind, streak, model.name)

        return before_call

    def _before_send(self, request: Any, **_: Any) -> AWSResponse | None:
        kind, streak, operation = getattr(self._call, "fault", (None, 0, ""))
        if kind is not None and streak > 0:
            self._call.fault = (kind, streak - 1, operation)
            self._count(self.injected, kind)
            return self._retried_error(kind, request.url)
        optimistic = operation in ("PutItem", "UpdateItem") and "version" in _condition(request.body)
        if optimistic and self._draw("ddb_conflict"):
            self._call.fault = ("ddb_conflict", 0, operation)
            self._count(self.injected, "ddb_conflict")
            return _dynamodb_error(request.url, "ConditionalCheckFailedException", "The conditional request failed")
        if operation == "PutEvents" and self._draw("events_put"):
            self._call.fault = ("events_put", 0, operation)
            self._count(self.injected, "events_put")
            entries = len(json.loads(request.body or b"{}").get("Entries", [])) or 1
            failed = {"ErrorCode": "InternalFailure", "ErrorMessage": "Internal service error"}
            body = json.dumps({"FailedEntryCount": entries, "Entries": [failed] * entries}).encode()
            return _response(request.url, 200, {"Content-Type": "application/x-amz-json-1.1"}, body)
        return None

    def _retried_error(self, kind: str, url: str) -> AWSResponse:
        with self._lock:
            first = self._random.random() < 0.5
        if kind == "s3_put" and first:
            return _s3_error(url, 503, "SlowDown", "Please reduce your request rate.")
        if kind in ("s3_put", "s3_get"):
            return _s3_error(url, 500, "InternalError", "We encountered an internal error. Please try again.")
        code = "ProvisionedThroughputExceededException" if first else "ThrottlingException"
        return _dynamodb_error(url, code, "Rate of requests exceeds the allowed throughput.")

    def _after_call(self, http_response: Any, parsed: dict[str, Any], **_: Any) -> None:
        kind, _streak, _operation = getattr(self._call, "fault", (None, 0, ""))
        self._call.fault = (None, 0, "")
        failed = http_response.status_code >= 300 or parsed.get("FailedEntryCount")
        if kind is not None and failed and self._was_injected(kind, parsed):
            self._count(self.surfaced, kind)

    @staticmethod
    def _was_injected(kind: str, parsed: dict[str, Any]) -> bool:
        """The call's error is the one injected (not one the emulated service answered itself)."""
        if kind == "events_put":
            return True
        code = parsed.get("Error", {}).get("Code")
        injected = {
            "s3_put": ("SlowDown", "InternalError"),
            "s3_get": ("InternalError",),
            "ddb_throttle": ("ProvisionedThroughputExceededException", "ThrottlingException"),
            "ddb_conflict": ("ConditionalCheckFailedException",),
        }
        return code in injected.get(kind, ())

    # ---- SQS deliveries --------------------------------------------------------------------

    def deliveries(self, sqs: Any, queue_url: str, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """What a poller hands its function of the messages it received: some are sent back to come
        again later (a duplicate), some held back and delivered later instead (out of order)."""
        handed = []
        for message in messages:
            if self._draw("sqs_delay"):
                self._count(self.injected, "sqs_delay")
                self._send_again(sqs, queue_url, message)
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                continue
            if self._draw("sqs_duplicate"):
                self._count(self.injected, "sqs_duplicate")
                self._send_again(sqs, queue_url, message)
            handed.append(message)
        return handed

    def _send_again(self, sqs: Any, queue_url: str, message: dict[str, Any]) -> None:
        with self._lock:
            delay = self._random.randint(1, self.longest_delay)
        attributes = {
            name: {key: value for key, value in attribute.items() if key in ("DataType", "StringValue", "BinaryValue")}
            for name, attribute in message.get("MessageAttributes", {}).items()
        }
        sqs.send_message(
            QueueUrl=queue_url,
            MessageBody=message["Body"],
            DelaySeconds=delay,
            **({"MessageAttributes": attributes} if attributes else {}),
        )


def _condition(body: Any) -> str:
    """A DynamoDB request's ConditionExpression ('' when it has none)."""
    try:
        return str(json.loads(body or b"{}").get("ConditionExpression", ""))
    except (ValueError, AttributeError):
        return ""
