"""The AWS requests one job makes, counted on the code path: an upload, a job, its callback.

    .venv/bin/python bench/calls.py            # writes bench/calls.json and prints what it counted

Runs the local stack (devstack: moto, the real handlers in-process, wired from template.yaml) with its
queue pollers driven from here, and does what a client does, over HTTP: asks for an upload form
(POST /v1/uploads), sends the 12 MP JPEG of bench case a with it, creates a job (POST /v1/jobs: an
800 px wide WebP q80, with a callback URL served here), lets the queues run until the callback has
arrived, reads the job once (GET /v1/jobs/{id}) and downloads its output. A botocore hook on boto3's
default session, installed before any client exists, counts every request each function sends
(service and operation, retries included) while it runs. Counted apart:

- what the client sends to S3 itself (the POST of the upload form, the GET of the output's link);
- what Lambda's event source mappings do for the functions (a ReceiveMessage per batch received, a
  DeleteMessageBatch per batch done): the pollers here do the same, one message per batch;
- messages that reached a queue without a function sending them (S3's event notifications, an
  EventBridge rule's target): each is a SendMessage, billed to the queue's owner.

Also measured: each function's CPU time (its thread's) and wall time per invocation, on this
machine, against moto in the same process (moto's own work runs in other threads, not counted): the
part of a job that is not the engine's render (bench/cost.py adds it to the bench's render times).
"""

from __future__ import annotations

import http.server
import json
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import requests

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(ROOT), str(BENCH)]

import inputs  # noqa: E402 (bench/ is on sys.path now)

from devstack.functions import INVOKING  # noqa: E402
from devstack.stack import Stack  # noqa: E402
from tests.conftest import free_port  # noqa: E402

OUTPUT = BENCH / "calls.json"
INPUT = "jpeg12"  # bench case a's input
OUTPUTS: list[Any] = [{"name": "a", "format": "webp", "quality": 80, "operations": [{"type": "resize", "width": 800}]}]


WIRE_TYPES = {"S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"}


def plain(value: Any) -> Any:
    """A value in DynamoDB's wire form ({"S": …}, {"M": …}, …) as Python's; one that is already so, as it is
    (which an after-call hook sees depends on the order the resource layer registered its own)."""
    if not (isinstance(value, dict) and len(value) == 1 and next(iter(value)) in WIRE_TYPES):
        return value
    ((kind, inner),) = value.items()
    converted: dict[str, Any] = {
        "M": lambda: {k: plain(v) for k, v in inner.items()},
        "L": lambda: [plain(v) for v in inner],
        "N": lambda: Decimal(inner),
        "NS": lambda: {Decimal(x) for x in inner},
        "NULL": lambda: None,
    }
    return converted[kind]() if kind in converted else inner


def attribute_size(value: Any) -> int:
    """The bytes DynamoDB counts for a value (a number: about one byte per two digits, plus one)."""
    value = plain(value)
    if isinstance(value, dict):
        size = 3 + sum(len(k.encode()) + attribute_size(v) + 1 for k, v in value.items())
    elif isinstance(value, list | set | tuple):
        size = 3 + sum(attribute_size(v) + 1 for v in value)
    elif isinstance(value, str):
        size = len(value.encode())
    elif isinstance(value, bytes | bytearray):
        size = len(value)
    elif isinstance(value, bool) or value is None:
        size = 1
    else:
        size = (len(str(value).lstrip("-").replace(".", "").lstrip("0")) + 1) // 2 + 1
    return size


def item_size(item: dict[str, Any] | None) -> int:
    return sum(len(name.encode()) + attribute_size(value) for name, value in (item or {}).items())


class Counting:
    """Counts each request a function sends (before-call: once per call; moto answers without retries),
    and the capacity units DynamoDB would bill for it, from the sizes of the items it reads and writes
    (moto reports a constant): a write 1 unit per KB of the larger of the item before and after, a
    strongly consistent read 1 unit per 4 KB (an eventually consistent one half), a query by the
    total size it reads, a transaction twice."""

    def __init__(self, peek: Callable[[str, dict[str, Any]], dict[str, Any] | None]) -> None:
        self.requests: Counter[tuple[str, str, str]] = Counter()
        self.units: defaultdict[tuple[str, str, str], float] = defaultdict(float)
        self.items: defaultdict[tuple[str, str, str], Counter[str]] = defaultdict(Counter)  # what each reads or writes
        self.peek = peek  # (table, key) -> the item now, read without being counted
        self.on = False
        self._lock = threading.Lock()
        self._pending: dict[int, tuple[dict[str, Any], list[int]]] = {}  # a thread's call: its body, sizes before

    def install(self) -> None:
        if boto3.DEFAULT_SESSION is None:
            boto3.setup_default_session()
        assert boto3.DEFAULT_SESSION is not None
        boto3.DEFAULT_SESSION.events.register("before-call", self._before_call)
        boto3.DEFAULT_SESSION.events.register("after-call.dynamodb", self._after_dynamodb)

    def _before_call(self, event_name: str, params: dict[str, Any], **_: Any) -> None:
        function = INVOKING.get()  # None: the stack's own calls (its pollers, counted apart)
        if not self.on or function is None:
            return
        _event, service, operation = event_name.split(".")
        with self._lock:
            self.requests[(function, service, operation)] += 1
        if service == "dynamodb":  # the request's JSON body is the call in DynamoDB's wire form
            body = json.loads(params["body"])
            item = body.get("Item") or body.get("Key") or {}
            kind = f"{body.get('TableName', '?')}:{item.get('sk', {}).get('S', '').split('#')[0] or '?'}"
            with self._lock:
                self.items[(function, service, operation)][kind] += 1
            sizes = [item_size(self.peek(*w)) for w in self._writes(operation, body)]
            self._pending[threading.get_ident()] = (body, sizes)

    @staticmethod
    def _writes(operation: str, params: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """(table, key) of each item the call writes."""
        if operation in ("UpdateItem", "DeleteItem"):
            return [(params["TableName"], params["Key"])]
        if operation == "TransactWriteItems":
            found = []
            for entry in params["TransactItems"]:
                ((kind, action),) = entry.items()
                if kind != "ConditionCheck":
                    found.append((action["TableName"], action.get("Key") or action["Item"]))
            return found
        return []

    def _after_dynamodb(self, event_name: str, parsed: dict[str, Any], **_: Any) -> None:
        function = INVOKING.get()
        if not self.on or function is None:
            return
        operation = event_name.rsplit(".", maxsplit=1)[-1]
        params, before = self._pending.pop(threading.get_ident())
        writes = self._writes(operation, params)
        after = [item_size(self.peek(*w)) for w in writes]
        kb, four_kb = 1024, 4096
        read = 1.0 if params.get("ConsistentRead") else 0.5
        units: float
        if operation == "PutItem":
            units = -(-item_size(params["Item"]) // kb)
        elif operation in ("UpdateItem", "DeleteItem"):
            units = max(1, -(-max(before + after) // kb))
        elif operation == "TransactWriteItems":
            units = 2 * sum(max(1, -(-max(b, a) // kb)) for b, a in zip(before, after, strict=True))
        elif operation == "GetItem":
            units = read * max(1, -(-item_size(parsed.get("Item")) // four_kb))
        elif operation == "Query":
            units = read * max(1, -(-sum(item_size(i) for i in parsed.get("Items", [])) // four_kb))
        elif operation == "BatchGetItem":
            units = sum(
                max(1, -(-item_size(i) // four_kb)) for found in parsed.get("Responses", {}).values() for i in found
            )
        else:
            raise SystemExit(f"bench/calls.py does not know the capacity units of dynamodb.{operation}: add them")
        with self._lock:
            self.units[(function, "dynamodb", operation)] += units


class Timing:
    """Each function's invocations: how many, their CPU (the invoking thread's) and wall milliseconds."""

    def __init__(self) -> None:
        self.invocations: dict[str, list[tuple[float, float]]] = {}

    def wrap(self, logical_id: str, invoke: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], Any]:
        def timed(event: dict[str, Any]) -> Any:
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                return invoke(event)
            finally:
                sample = ((time.thread_time() - cpu) * 1000, (time.perf_counter() - wall) * 1000)
                self.invocations.setdefault(logical_id, []).append(sample)

        timed.__wrapped__ = invoke  # type: ignore[attr-defined]
        return timed


class Receiver(http.server.BaseHTTPRequestHandler):
    """The callback URL: answers 204 and keeps what it was sent."""

    received: list[dict[str, Any]] = []  # noqa: RUF012 (one receiver per run)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        Receiver.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


def drain_until(stack: Stack, done: Callable[[], bool], pollers: Counter[tuple[str, str, str]]) -> None:
    """Runs the pollers as Lambda's event source mappings do, one message per batch, until `done()`."""
    deadline = time.monotonic() + 120
    while not done():
        if time.monotonic() > deadline:
            raise SystemExit("the job did not end with its callback within 2 minutes")
        for poller in stack.pollers:
            poller.source.batch_size = 1
            if poller.poll_once(wait_seconds=0):
                name = poller.source.function.logical_id
                pollers[(name, "sqs", "ReceiveMessage")] += 1
                pollers[(name, "sqs", "DeleteMessageBatch")] += 1
        time.sleep(0.1)


def one_job(stack: Stack, callback: str, data: bytes, pollers: Counter[tuple[str, str, str]]) -> tuple[int, Counter]:
    """The flow, as a client does it; the bytes of the output, and what the client sent to S3 itself."""
    client: Counter[tuple[str, str, str]] = Counter()
    headers = {"X-API-Key": stack.api_key}
    Receiver.received.clear()
    form = requests.post(
        f"{stack.api_url}/uploads",
        json={"filename": "photo.jpg", "content_type": "image/jpeg"},
        headers=headers,
        timeout=60,
    ).json()
    sent = requests.post(
        form["url"], data=form["fields"], files={"file": ("photo.jpg", data, "image/jpeg")}, timeout=60
    )
    sent.raise_for_status()
    client[("client", "s3", "PostObject (the upload form)")] += 1
    created = requests.post(
        f"{stack.api_url}/jobs",
        json={"source": {"upload_id": form["upload_id"]}, "outputs": OUTPUTS, "callback_url": callback},
        headers=headers,
        timeout=60,
    )
    created.raise_for_status()
    drain_until(stack, lambda: bool(Receiver.received), pollers)
    job = requests.get(f"{stack.api_url}/jobs/{created.json()['id']}", headers=headers, timeout=60).json()
    if job["status"] != "succeeded":
        raise SystemExit(f"the job {job['status']}: {json.dumps(job)[:2000]}")
    output = requests.get(job["outputs"][0]["url"], timeout=60)
    output.raise_for_status()
    client[("client", "s3", "GetObject (the output's link)")] += 1
    drain_until(stack, lambda: all(not p.poll_once(wait_seconds=0) for p in stack.pollers), pollers)
    return len(output.content), client


def summary(
    counting: Counting, pollers: Counter[tuple[str, str, str]], client: Counter[tuple[str, str, str]], timing: Timing
) -> dict[str, Any]:
    sent_by_functions = sum(
        n for (_, service, op), n in counting.requests.items() if (service, op) == ("sqs", "SendMessage")
    )
    received = sum(n for (_, _, op), n in pollers.items() if op == "ReceiveMessage")
    if received > sent_by_functions:
        pollers[("S3 notifications and EventBridge rules", "sqs", "SendMessage")] += received - sent_by_functions
    # Who sends each: the client, a function (its time is billed), Lambda's event source mapping for
    # a function (its SQS requests are, its time is not), or AWS itself (S3's notifications, EventBridge's rules).
    kinds = {"client": "client", "S3 notifications and EventBridge rules": "aws"}
    rows: list[dict[str, Any]] = [
        {"by": by, "kind": kinds.get(by, kind), "service": service, "operation": operation, "count": count}
        | (
            {
                "capacity_units": counting.units[(by, service, operation)],
                "items": dict(counting.items[(by, service, operation)]),  # table:kind of sort key
            }
            if service == "dynamodb"
            else {}
        )
        for source, kind in ((client, "client"), (counting.requests, "function"), (pollers, "event source mapping"))
        for (by, service, operation), count in sorted(source.items())
    ]
    timings = {
        name: {
            "invocations": len(samples),
            "cpu_ms": [round(cpu, 1) for cpu, _ in samples],
            "wall_ms": [round(wall, 1) for _, wall in samples],
        }
        for name, samples in sorted(timing.invocations.items())
    }
    return {"requests": rows, "functions": timings}


def main() -> None:
    uncounted: dict[str, Any] = {}  # a client of its own session: the hooks do not see it

    def peek(table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        if "dynamodb" not in uncounted:
            uncounted["dynamodb"] = boto3.Session().client(
                "dynamodb", endpoint_url=stack.aws_url, region_name="us-east-1"
            )
        return uncounted["dynamodb"].get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")

    counting = Counting(peek)
    counting.install()
    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Receiver)
    threading.Thread(target=receiver.serve_forever, name="receiver", daemon=True).start()
    callback = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    stack = Stack(api_key="ij_bench_calls", api_port=free_port(), aws_port=free_port(), poll=False).start()
    data = inputs.path(INPUT).read_bytes()
    jobs: dict[str, Any] = {}
    try:
        for name in ("first job (cold instances)", "next job (warm instances)"):
            timing = Timing()
            for function in stack.functions:
                invoke = getattr(function.invoke, "__wrapped__", function.invoke)
                setattr(function, "invoke", timing.wrap(function.logical_id, invoke))  # noqa: B010 (over the method)
            counting.requests.clear()
            counting.units.clear()
            counting.items.clear()
            pollers: Counter[tuple[str, str, str]] = Counter()
            counting.on = True
            output_bytes, client = one_job(stack, callback, data, pollers)
            counting.on = False
            jobs[name] = summary(counting, pollers, client, timing) | {"output_bytes": output_bytes}
    finally:
        stack.stop()
        receiver.shutdown()
    result = {
        "flow": "POST /v1/uploads, the form's POST to S3, POST /v1/jobs (one 800 w WebP q80, a callback URL), "
        "the queues until the callback arrived, GET /v1/jobs/{id}, the output's GET; twice, on one stack",
        "input": f"{inputs.path(INPUT).name} ({inputs.INPUTS[INPUT].description})",
        "input_bytes": len(data),
        "jobs": jobs,
    }
    OUTPUT.write_text(json.dumps(result, indent=1) + "\n")
    for name, job in jobs.items():
        print(f"{name}:")
        for row in job["requests"]:
            units = f" ({row['capacity_units']:g} units)" if "capacity_units" in row else ""
            print(f"  {row['count']:3}  {row['service']:11} {row['operation'] + units:40} {row['by']}")
        for function, timed in job["functions"].items():
            cpu, wall = timed["cpu_ms"], timed["wall_ms"]
            print(f"  {function:26} {timed['invocations']} invocations, CPU ms {cpu}, wall ms {wall}")
    print(f"wrote {OUTPUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
