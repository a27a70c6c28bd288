"""The template's functions, run in this process: loaded from their CodeUri with their layers'
code on sys.path, invoked one event at a time each (as one Lambda instance would), and fed by
pollers for their SQS event sources."""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from moto.events.models import EventPattern

from devstack.faults import Faults
from devstack.template import ACCOUNT_ID, REGION, ROOT, Template, TemplateError

Handler = Callable[[dict[str, Any], Any], Any]
KILLS = {"timeout": "Task timed out", "out_of_memory": "Runtime exited with error: signal: killed (out of memory)"}


class FunctionKilledError(BaseException):
    """The local stack's stand-in for Lambda stopping an invocation (a timeout, or out of memory):
    a BaseException, so no `except Exception` in the function's code survives it, as no code
    survives the real one."""


# The function running in this thread, if any: what devstack.iam authorizes AWS calls as.
INVOKING: ContextVar[str | None] = ContextVar("INVOKING", default=None)


@dataclass
class LambdaContext:
    """What the Lambda runtime passes as `context`, with the function's timeout counting down."""

    function_name: str
    memory_limit_in_mb: int
    timeout_s: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(default_factory=time.monotonic)
    kill: str | None = None  # a key of KILLS: the invocation dies when its code next asks the time

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.function_name}"

    function_version = "$LATEST"
    log_group_name = "/aws/lambda/local"
    log_stream_name = "local"

    def get_remaining_time_in_millis(self) -> int:
        if self.kill is not None:
            raise FunctionKilledError(f"{self.function_name}: {KILLS[self.kill]}")
        return max(0, int((self.timeout_s - (time.monotonic() - self.started)) * 1000))


@dataclass
class Route:
    method: str
    path: str  # as in the template: /jobs/{job_id}
    function: Function
    auth: dict[str, Any]  # the event's Auth (Authorizer: NONE, ApiKeyRequired), over the Api's


@dataclass
class SqsSource:
    queue_logical_id: str
    batch_size: int
    report_failures: bool
    function: Function


@dataclass
class StreamSource:
    """A DynamoDB stream event source; locally, the removals the TTL emulation makes (`TtlSweeper`)."""

    table_logical_id: str
    batch_size: int
    patterns: list[str]  # the FilterCriteria patterns, as JSON
    function: Function


@dataclass
class Function:
    logical_id: str
    properties: dict[str, Any]  # with the template's Globals
    module: ModuleType | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Simulates Lambda stopping every invocation of this function midway (IMAGEJOBS_KILL locally).
    kill: str | None = None
    invocations: int = 0
    _idle: list[ModuleType] = field(default_factory=list)  # warm instances, not busy

    def load(self) -> None:
        self.module = self._instance()
        self._idle.append(self.module)

    def _instance(self) -> ModuleType:
        """The handler's module, loaded anew: one more warm instance of the function."""
        code_uri = ROOT / self.properties["CodeUri"]
        module_name, _, self._attribute = self.properties["Handler"].rpartition(".")
        spec = importlib.util.spec_from_file_location(
            f"devstack_fn_{self.logical_id}", code_uri / f"{module_name.replace('.', '/')}.py"
        )
        if spec is None or spec.loader is None:
            raise TemplateError(f"{self.logical_id}: cannot load {code_uri}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    def invoke(self, event: dict[str, Any]) -> Any:
        """Runs the real handler on `event` in a warm instance that is not busy, or a new one, as Lambda
        does: one event at a time per instance, as many instances as there are events at once."""
        with self.lock:
            if self.module is None:
                self.load()
            cold = not self._idle or self.invocations == 0
            module = self._idle.pop() if self._idle else self._instance()
            self.invocations += 1
        handler: Handler = getattr(module, self._attribute)
        context = LambdaContext(
            function_name=self.logical_id,
            memory_limit_in_mb=int(self.properties.get("MemorySize", 128)),
            timeout_s=int(self.properties.get("Timeout", 3)),
            kill=self.kill,
        )
        with self._logged_as(context, cold):
            running = INVOKING.set(self.logical_id)
            try:
                return handler(event, context)
            finally:
                INVOKING.reset(running)
                with self.lock:
                    self._idle.append(module)

    @contextmanager
    def _logged_as(self, context: LambdaContext, cold: bool) -> Iterator[None]:
        """Log lines written in this thread meanwhile name this function.

        Powertools' `inject_lambda_context` appends the Lambda context to keys every Logger in the
        process shares: in Lambda, one function per process; here, the functions run side by side,
        and the last invocation to start would be credited with every line. Keys appended with
        `thread_safe_append_keys` are this thread's own and win over the shared ones."""
        from imagejobs.observability import logger  # noqa: PLC0415 (importable once the layers are on sys.path)

        keys = {
            "function_name": context.function_name,
            "function_memory_size": context.memory_limit_in_mb,
            "function_arn": context.invoked_function_arn,
            "function_request_id": context.aws_request_id,
            "cold_start": cold,
        }
        logger.thread_safe_append_keys(**keys)
        try:
            yield
        finally:
            logger.thread_safe_remove_keys(keys)


class _PerThread:
    """A data descriptor holding one value per thread, read and written on a class or its instances."""

    def __init__(self, name: str) -> None:
        self.name, self.values = name, threading.local()

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        try:
            return self.values.value
        except AttributeError:
            raise AttributeError(self.name) from None

    def __set__(self, instance: object, value: Any) -> None:
        self.values.value = value


def one_event_per_thread() -> None:
    """Powertools' event handler keeps the event and context it resolves on its base class
    (`BaseRouter.current_event`, `.lambda_context`): in Lambda, one invocation per process; here,
    the API's requests run side by side, and one request's handler read another's event (a POST
    /v1/jobs validated a POST /v1/uploads body). Made this thread's own, on the class (where
    Powertools writes them, through its metaclass) and its instances (where it reads them)."""
    from aws_lambda_powertools.event_handler.api_gateway import BaseRouter  # noqa: PLC0415 (with the layers)

    if isinstance(BaseRouter.__dict__.get("current_event"), _PerThread):
        return
    fields = {name: _PerThread(name) for name in ("current_event", "lambda_context")}
    for name, field_ in fields.items():
        setattr(BaseRouter, name, field_)
    BaseRouter.__class__ = type("PerThreadRouterMeta", (type(BaseRouter),), dict(fields))  # type: ignore[method-assign]


def functions(template: Template) -> tuple[list[Function], list[Route], list[SqsSource], list[StreamSource]]:
    """The template's functions with their routes, SQS and DynamoDB stream event sources (other event
    types are refused)."""
    found: list[Function] = []
    routes: list[Route] = []
    sources: list[SqsSource] = []
    streams: list[StreamSource] = []
    for logical_id in template.resources("AWS::Serverless::Function"):
        properties = template.function_properties(logical_id)
        function = Function(logical_id, properties)
        found.append(function)
        for name, event in properties.get("Events", {}).items():
            event_properties = event.get("Properties", {})
            if event["Type"] == "Api":
                method, path = event_properties["Method"].upper(), event_properties["Path"]
                routes.append(Route(method, path, function, event_properties.get("Auth", {})))
            elif event["Type"] == "SQS":
                queue = event_properties["Queue"]
                if "Fn::GetAtt" not in queue:
                    raise TemplateError(f"{logical_id}.{name}: the queue must be !GetAtt <Queue>.Arn")
                sources.append(
                    SqsSource(
                        queue_logical_id=queue["Fn::GetAtt"][0],
                        batch_size=int(event_properties.get("BatchSize", 10)),
                        report_failures="ReportBatchItemFailures" in event_properties.get("FunctionResponseTypes", []),
                        function=function,
                    )
                )
            elif event["Type"] == "DynamoDB":
                table, attribute = event_properties["Stream"]["Fn::GetAtt"]
                if attribute != "StreamArn":
                    raise TemplateError(f"{logical_id}.{name}: the stream must be !GetAtt <Table>.StreamArn")
                filters = event_properties.get("FilterCriteria", {}).get("Filters", [])
                streams.append(
                    StreamSource(
                        table, int(event_properties.get("BatchSize", 100)), [f["Pattern"] for f in filters], function
                    )
                )
            else:
                raise TemplateError(f"{logical_id}.{name}: event type {event['Type']} is not emulated locally")
    return found, routes, sources, streams


def layer_paths(template: Template, functions_: list[Function]) -> list[str]:
    """Where the layers' own code lives (their ContentUri); their dependencies are in the venv."""
    layers = template.resources("AWS::Serverless::LayerVersion")
    paths = []
    for function in functions_:
        for layer in function.properties.get("Layers", []):
            logical_id = layer.get("Ref") if isinstance(layer, dict) else None
            if logical_id not in layers:
                raise TemplateError(f"{function.logical_id}: layer {layer} is not a layer of this template")
            path = str(ROOT / layers[logical_id]["Properties"]["ContentUri"])
            if path not in paths:
                paths.append(path)
    return paths


def merged_environment(template: Template, functions_: list[Function]) -> dict[str, str]:
    """The functions' variables (resolved now that the resources exist). One process hosts every
    function, so they must agree where they overlap."""
    merged: dict[str, str] = {}
    for function in functions_:
        variables = template.resolve(function.properties.get("Environment", {}).get("Variables", {}))
        for key, value in ((k, str(v)) for k, v in variables.items()):
            if merged.setdefault(key, value) != value:
                raise TemplateError(f"functions disagree on {key}; the local stack runs them in one process")
    return merged


class SqsPoller(threading.Thread):
    """Lambda's SQS event source mapping: receive, invoke, delete what succeeded."""

    def __init__(
        self, source: SqsSource, sqs: Any, template: Template, stop: threading.Event, faults: Faults | None = None
    ) -> None:
        super().__init__(name=f"sqs-{source.function.logical_id}", daemon=True)
        self.source, self.sqs, self.stop, self.faults = source, sqs, stop, faults
        self.queue_url = template.refs[source.queue_logical_id]
        self.queue_arn = template.attributes[source.queue_logical_id]["Arn"]

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.poll_once(wait_seconds=1)
            except Exception as error:  # noqa: BLE001 (a poller must survive and say why it failed)
                print(f"[devstack] {self.name}: {type(error).__name__}: {error}", file=sys.stderr)
                time.sleep(1)

    def poll_once(self, wait_seconds: int) -> int:
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=min(self.source.batch_size, 10),
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if self.faults is not None:  # duplicates and late deliveries, when the stack was asked for faults
            messages = self.faults.deliveries(self.sqs, self.queue_url, messages)
        if not messages:
            return 0
        event = {"Records": [self._record(m) for m in messages]}
        failed: set[str] = {m["MessageId"] for m in messages}
        try:
            response = self.source.function.invoke(event)
            failures = (response or {}).get("batchItemFailures", []) if self.source.report_failures else []
            failed = {f["itemIdentifier"] for f in failures}
        except FunctionKilledError as killed:
            # Lambda leaves the batch to come back after the queue's visibility timeout; locally, now.
            print(f"[devstack] {killed}", file=sys.stderr)
            for message in messages:
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
        finally:
            done = [m for m in messages if m["MessageId"] not in failed]
            if done:
                self.sqs.delete_message_batch(
                    QueueUrl=self.queue_url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
                )
        return len(messages)

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {
                name: {k[0].lower() + k[1:]: v for k, v in value.items()}
                for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": REGION,
        }


class TtlSweeper(threading.Thread):
    """DynamoDB's TTL, which moto does not run: removes expired items as the service would, and
    hands the removals, as the stream records TTL makes, to the functions whose filters match."""

    PAUSE = 5.0  # seconds between sweeps, at least

    def __init__(self, sources: list[StreamSource], dynamodb: Any, template: Template, stop: threading.Event) -> None:
        super().__init__(name="ttl", daemon=True)
        self.sources, self.dynamodb, self.template, self.stop = sources, dynamodb, template, stop

    def run(self) -> None:
        pause = self.PAUSE
        while not self.stop.wait(pause):
            started = time.monotonic()
            try:
                self.sweep_once()
            except Exception as error:  # noqa: BLE001 (a sweeper must survive and say why it failed)
                print(f"[devstack] ttl: {type(error).__name__}: {error}", file=sys.stderr)
            # A sweep reads the whole table: it takes a tenth of the time at most, however large the table.
            pause = max(self.PAUSE, 9 * (time.monotonic() - started))

    def sweep_once(self) -> int:
        removed = 0
        for table_id in {source.table_logical_id for source in self.sources}:
            removals = [self._remove(table_id, item) for item in self._expired(table_id)]
            records = [record for record in removals if record is not None]
            removed += len(records)
            for source in (s for s in self.sources if s.table_logical_id == table_id):
                matching = [r for r in records if _matches(source.patterns, r)]
                for start in range(0, len(matching), source.batch_size):
                    source.function.invoke({"Records": matching[start : start + source.batch_size]})
        return removed

    def _expired(self, table_id: str) -> list[dict[str, Any]]:
        name, ttl = self.template.refs[table_id], self._ttl_attribute(table_id)
        scan = {
            "TableName": name,
            "FilterExpression": "#ttl < :now",
            "ExpressionAttributeNames": {"#ttl": ttl},
            "ExpressionAttributeValues": {":now": {"N": str(int(time.time()))}},
        }
        items: list[dict[str, Any]] = []
        while True:
            page = self.dynamodb.scan(**scan)
            items += page["Items"]
            if "LastEvaluatedKey" not in page or self.stop.is_set():  # (the stack stopping: no more pages)
                return items
            scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _ttl_attribute(self, table_id: str) -> str:
        return str(self.template.body["Resources"][table_id]["Properties"]["TimeToLiveSpecification"]["AttributeName"])

    def _remove(self, table_id: str, item: dict[str, Any]) -> dict[str, Any] | None:
        schema = self.template.body["Resources"][table_id]["Properties"]["KeySchema"]
        keys = {k["AttributeName"]: item[k["AttributeName"]] for k in schema}
        try:
            self.dynamodb.delete_item(
                TableName=self.template.refs[table_id],
                Key=keys,
                ConditionExpression="#ttl < :now",
                ExpressionAttributeNames={"#ttl": self._ttl_attribute(table_id)},
                ExpressionAttributeValues={":now": {"N": str(int(time.time()))}},
            )
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            return None  # changed since the scan
        return {
            "eventID": uuid.uuid4().hex,
            "eventName": "REMOVE",
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": REGION,
            "dynamodb": {
                "ApproximateCreationDateTime": int(time.time()),
                "Keys": keys,
                "SequenceNumber": str(time.time_ns()),
                "SizeBytes": 64,
                "StreamViewType": "KEYS_ONLY",
            },
            "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
            "eventSourceARN": self.template.attributes[table_id]["StreamArn"],
        }


def _matches(patterns: list[str], record: dict[str, Any]) -> bool:
    """Lambda's event filtering: a record passes when any pattern matches (or there are none)."""
    return not patterns or any(EventPattern(p, json.loads(p)).matches_event(record) for p in patterns)  # type: ignore[arg-type]
