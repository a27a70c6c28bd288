"""Least privilege, proven before deploy: each AWS call a function makes in the local stack is
authorized against that function's own role, as `sam deploy` would create it, and refused as AWS
would refuse it.

- The roles come from the SAM translator (scripts/sam_policies.py, run in the SAM CLI's
  environment and cached by the template's hash), with the AWS managed policies SAM attaches taken
  from moto's copy of them, resolved against the resources the local stack created.
- A botocore hook on boto3's default session sees every call a function makes before it is sent,
  maps the operation and its parameters to what IAM authorizes (`requests_for`: ListObjectsV2 is
  s3:ListBucket on the bucket, DeleteObjects s3:DeleteObject on each key, TransactWriteItems each
  item's action on its table, ...) and evaluates the role's statements (an explicit Deny wins, else
  an Allow must match action, resource and conditions). A refused call is answered AccessDenied
  without being sent, as AWS answers it.
- Presigned URLs and POST forms are signed by the function and used by someone else: AWS refuses
  the use, not the signing. They are checked when signed, and a refusal is recorded.

Every call is recorded (function, action, resource, allowed) in a file per stack; `summarize` reads
them back (the tests do at the end of the session) and reports refusals and what the template
grants that no call used.

Why not moto's own enforcement (INITIAL_NO_AUTH_ACTION_COUNT)? In moto 5.2 it authorizes DynamoDB
and EventBridge requests against resource "*", so a policy scoped to a table or a bus (every SAM
policy template is) refuses calls AWS allows; S3 checks DeleteObjects against the bucket, not the
keys; conditions are not evaluated; presigned requests are checked against whoever sends them, not
the signer; and every request, the stack's own provisioning included, must then be signed by an
IAM identity. Only SQS is faithful.

Not covered: resource policies (the bucket's TLS-only Deny, the queues' policies for S3 and
EventBridge), what Lambda's event source mappings do with the role (the pollers here are not the
function), and calls a function makes from threads it starts itself (they are not attributed).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

import boto3
from botocore.awsrequest import AWSResponse

from devstack.template import ACCOUNT_ID, REGION, ROOT, TEMPLATE, Template

SAM_PYTHON = ROOT / ".venv-sam" / "bin" / "python"
SCRIPT = ROOT / "scripts" / "sam_policies.py"
CACHE = ROOT / ".devstack" / "iam"


class IamError(Exception):
    """The IAM check cannot do what it was asked (no SAM environment, a policy it cannot read)."""


# ---- the roles --------------------------------------------------------------------------------


def translate(template: Path = TEMPLATE) -> dict[str, Any]:
    """Each function's role as the SAM translator makes it (intrinsics unresolved), by logical id.
    Cached in .devstack/iam by the hash of the template, the script and the SAM CLI's pins."""
    digest = hashlib.sha256()
    for part in (template, SCRIPT, ROOT / "requirements-sam.txt"):
        digest.update(part.read_bytes())
    cached = CACHE / f"roles-{digest.hexdigest()[:20]}.json"
    if cached.exists():
        return dict(json.loads(cached.read_text()))
    if not SAM_PYTHON.exists():
        raise IamError(
            f"the IAM check translates the template with the SAM CLI's environment, {SAM_PYTHON}, which "
            "is missing: `make .venv-sam/.installed` makes it (so do `make build` and `make test`)"
        )
    done = subprocess.run(  # noqa: S603 (the project's own script, in the project's SAM environment)
        [str(SAM_PYTHON), str(SCRIPT), str(template)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "AWS_DEFAULT_REGION": REGION},
    )
    if done.returncode != 0:
        raise IamError(f"scripts/sam_policies.py failed:\n{done.stderr}")
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(done.stdout)
    partial.replace(cached)
    return dict(json.loads(done.stdout))


@cache
def _managed_policies() -> dict[str, Any]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data  # noqa: PLC0415 (2 MB, only when asked)

    return dict(json.loads(aws_managed_policies_data))


def managed_statements(arn: str) -> list[dict[str, Any]]:
    """The statements of an AWS managed policy (arn:aws:iam::aws:policy/<path><name>)."""
    path, _, name = arn.partition(":policy")[2].rpartition("/")
    policy = _managed_policies().get(name)
    if not arn.startswith("arn:aws:iam::aws:policy/") or policy is None or policy["Path"] != f"{path}/":
        raise IamError(f"{arn} is not an AWS managed policy the IAM check knows")
    statements = policy["Document"]["Statement"]
    return list(statements) if isinstance(statements, list) else [statements]


def _wildcard(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """IAM's wildcards: `*` is any run of characters (`/` and `:` too), `?` any one; nothing else
    is special (unlike fnmatch, `[` is a plain character)."""
    return _compiled(pattern, ignore_case).fullmatch(value) is not None


@cache
def _compiled(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _numeric(test: Callable[[float, float], bool]) -> Callable[[str, str], bool]:
    return lambda value, pattern: test(float(value), float(pattern))


CONDITION_TESTS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda value, pattern: value == pattern,
    "StringEqualsIgnoreCase": lambda value, pattern: value.lower() == pattern.lower(),
    "StringLike": lambda value, pattern: _wildcard(pattern, value),
    "ArnEquals": lambda value, pattern: _wildcard(pattern, value),
    "ArnLike": lambda value, pattern: _wildcard(pattern, value),
    "Bool": lambda value, pattern: value.lower() == pattern.lower(),
    "NumericEquals": _numeric(lambda a, b: a == b),
    "NumericLessThan": _numeric(lambda a, b: a < b),
    "NumericLessThanEquals": _numeric(lambda a, b: a <= b),
    "NumericGreaterThan": _numeric(lambda a, b: a > b),
    "NumericGreaterThanEquals": _numeric(lambda a, b: a >= b),
}
NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
    "NumericNotEquals": "NumericEquals",
}


@dataclass(frozen=True)
class Condition:
    """One key of one operator of a statement's Condition block; its values are alternatives."""

    operator: str
    key: str  # lower case: IAM's condition keys are case-insensitive
    values: tuple[str, ...]

    def __post_init__(self) -> None:
        base = self.operator.removesuffix("IfExists")
        if base != "Null" and base not in CONDITION_TESTS and base not in NEGATED:
            raise IamError(f"the IAM check does not evaluate the condition operator {self.operator}")

    def holds(self, context: Mapping[str, str]) -> bool:
        base = self.operator.removesuffix("IfExists")
        if base == "Null":
            return (self.key not in context) == (self.values[0].lower() == "true")
        if self.key not in context:  # absent: only IfExists and the negated operators hold
            return base != self.operator or base in NEGATED
        test = CONDITION_TESTS[NEGATED.get(base, base)]
        matched = any(test(context[self.key], value) for value in self.values)
        return not matched if base in NEGATED else matched


@dataclass(frozen=True)
class Request:
    """What IAM authorizes: an action on a resource, with the request's condition keys."""

    action: str
    resource: str
    context: tuple[tuple[str, str], ...] = ()


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else (str(value),)


@dataclass(frozen=True)
class Statement:
    """One statement of a role's policies, and where it comes from: `policy` names it (the
    template's `S3CrudPolicy(Bucket)`, a managed policy's name), `origin` is template, sam or managed."""

    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    not_action: bool = False
    not_resource: bool = False
    conditions: tuple[Condition, ...] = ()
    policy: str = ""
    origin: str = "template"

    @classmethod
    def parse(cls, raw: Mapping[str, Any], policy: str, origin: str) -> Statement:
        for element in ("Action", "Resource"):
            if (element in raw) == (f"Not{element}" in raw):
                raise IamError(f"{policy}: a statement needs exactly one of {element} and Not{element}")
        if "Effect" not in raw or "Principal" in raw:
            raise IamError(f"{policy}: not an identity policy statement: {raw}")
        conditions = []
        for operator, keys in raw.get("Condition", {}).items():
            if ":" in operator:
                raise IamError(f"{policy}: the IAM check does not evaluate {operator} (multivalued keys)")
            conditions += [Condition(operator, key.lower(), _strings(values)) for key, values in keys.items()]
        resources = _strings(raw.get("Resource", raw.get("NotResource")))
        if any("${" in resource for resource in resources):
            raise IamError(f"{policy}: policy variables are not evaluated: {resources}")
        return cls(
            effect=str(raw["Effect"]),
            actions=_strings(raw.get("Action", raw.get("NotAction"))),
            resources=resources,
            not_action="NotAction" in raw,
            not_resource="NotResource" in raw,
            conditions=tuple(conditions),
            policy=policy,
            origin=origin,
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Statement:
        conditions = tuple(Condition(c["operator"], c["key"], tuple(c["values"])) for c in data["conditions"])
        sequences = {"actions": tuple(data["actions"]), "resources": tuple(data["resources"]), "conditions": conditions}
        return cls(**{**data, **sequences})

    def applies(self, request: Request) -> bool:
        return self.covers(request, self.actions)

    def covers(self, request: Request, actions: Iterable[str]) -> bool:
        """Whether the statement, with only these of its action patterns, applies to the request."""
        action = any(_wildcard(pattern, request.action, ignore_case=True) for pattern in actions) != self.not_action
        resource = any(_wildcard(pattern, request.resource) for pattern in self.resources) != self.not_resource
        context = {key.lower(): value for key, value in request.context}
        return action and resource and all(condition.holds(context) for condition in self.conditions)


def allowed(statements: Sequence[Statement], request: Request) -> bool:
    """IAM's evaluation of identity policies: an explicit Deny wins; else an Allow must apply."""
    applying = [statement for statement in statements if statement.applies(request)]
    return any(s.effect == "Allow" for s in applying) and not any(s.effect == "Deny" for s in applying)


@dataclass
class Roles:
    """Each function's role: its name and its statements, with every ARN resolved."""

    names: dict[str, str]  # function logical id -> role logical id
    statements: dict[str, list[Statement]]

    @classmethod
    def resolve(cls, translated: Mapping[str, Any], template: Template) -> Roles:
        """The translator's roles (`translate()`), resolved against a local stack's resources."""
        statements: dict[str, list[Statement]] = {}
        for function, role in translated.items():
            found = [
                Statement.parse(raw, policy["label"], policy["origin"])
                for policy in role["policies"]
                if policy.get("condition") is None or template.condition(policy["condition"])
                for raw in template.resolve(policy["statements"])
            ]
            for arn in template.resolve(role["managed"]):
                found += [Statement.parse(raw, arn.rpartition("/")[2], "managed") for raw in managed_statements(arn)]
            statements[function] = found
        return cls({function: role["role"] for function, role in translated.items()}, statements)


# ---- from API calls to what IAM authorizes ------------------------------------------------------


class UnmappedError(Exception):
    """An operation `requests_for` does not know; refused until it is added."""


def requests_for(service: str, operation: str, params: Mapping[str, Any]) -> list[Request]:
    """The (action, resource) pairs IAM authorizes for one API call. An operation this does not
    know raises UnmappedError: a guess could allow what AWS refuses."""
    mappers = {
        "s3": _s3, "dynamodb": _dynamodb, "sqs": _sqs, "events": _events, "apigateway": _apigateway,
        "secretsmanager": _secretsmanager,
    }  # fmt: skip
    mapper = mappers.get(service)
    if mapper is None:
        raise UnmappedError(f"{service}.{operation}")
    return mapper(operation, params)


S3_OBJECT_ACTIONS = {
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",
    "PutObject": "s3:PutObject",
    "PostObject": "s3:PutObject",  # a presigned POST form
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "DeleteObject": "s3:DeleteObject",
    "GetObjectTagging": "s3:GetObjectTagging",
    "PutObjectTagging": "s3:PutObjectTagging",
}
S3_BUCKET_ACTIONS = {
    "ListObjects": "s3:ListBucket",
    "ListObjectsV2": "s3:ListBucket",
    "HeadBucket": "s3:ListBucket",
    "ListObjectVersions": "s3:ListBucketVersions",
    "GetBucketLocation": "s3:GetBucketLocation",
}


def _s3(operation: str, params: Mapping[str, Any]) -> list[Request]:
    bucket = f"arn:aws:s3:::{params.get('Bucket')}"
    if operation in S3_BUCKET_ACTIONS:
        keys = {"s3:prefix": params.get("Prefix"), "s3:delimiter": params.get("Delimiter")}
        return [Request(S3_BUCKET_ACTIONS[operation], bucket, tuple((k, v) for k, v in keys.items() if v is not None))]
    if operation == "DeleteObjects":  # no IAM action of its own: s3:DeleteObject on every key
        return [_s3_object("DeleteObject", bucket, item) for item in params["Delete"]["Objects"]]
    if operation == "CopyObject":
        source = params["CopySource"]
        if isinstance(source, str):
            source_bucket, _, source_key = source.lstrip("/").partition("/")
            source = {"Bucket": source_bucket, "Key": source_key}
        read = _s3_object("GetObject", f"arn:aws:s3:::{source['Bucket']}", source)
        return [read, *_s3_written(bucket, params)]
    if operation in ("PutObject", "PostObject"):
        return _s3_written(bucket, params)
    if operation in S3_OBJECT_ACTIONS:
        return [_s3_object(operation, bucket, params)]
    raise UnmappedError(f"s3.{operation}")


def _s3_object(operation: str, bucket: str, params: Mapping[str, Any]) -> Request:
    action = S3_OBJECT_ACTIONS[operation]
    if params.get("VersionId") and action in ("s3:GetObject", "s3:DeleteObject"):
        action += "Version"
    return Request(action, f"{bucket}/{params['Key']}")


def _s3_written(bucket: str, params: Mapping[str, Any]) -> list[Request]:
    """PutObject, and what its ACL and tags need besides."""
    written = [Request("s3:PutObject", f"{bucket}/{params['Key']}")]
    if any(params.get(name) for name in ("ACL", "GrantFullControl", "GrantRead", "GrantReadACP", "GrantWriteACP")):
        written.append(Request("s3:PutObjectAcl", written[0].resource))
    if params.get("Tagging"):
        written.append(Request("s3:PutObjectTagging", written[0].resource))
    return written


DYNAMODB_TRANSACTION_ACTIONS = {
    "Get": "dynamodb:GetItem",
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}
# Actions named as their operation, on the table (or the index the call names).
DYNAMODB_TABLE_OPERATIONS = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "DescribeTable",
        "DescribeTimeToLive",
        "BatchGetItem",
        "BatchWriteItem",
    }
)


def _table_arn(name: str) -> str:
    return name if name.startswith("arn:") else f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{name}"


def _dynamodb(operation: str, params: Mapping[str, Any]) -> list[Request]:
    action = f"dynamodb:{operation}"
    if operation in ("BatchGetItem", "BatchWriteItem"):  # one authorization per table
        return [Request(action, _table_arn(table)) for table in params["RequestItems"]]
    if operation in ("TransactGetItems", "TransactWriteItems"):  # each item's own action on its table
        return [
            Request(DYNAMODB_TRANSACTION_ACTIONS[kind], _table_arn(detail["TableName"]))
            for item in params["TransactItems"]
            for kind, detail in item.items()
        ]
    if operation in DYNAMODB_TABLE_OPERATIONS:
        table = _table_arn(params["TableName"])
        return [Request(action, f"{table}/index/{params['IndexName']}" if params.get("IndexName") else table)]
    raise UnmappedError(f"dynamodb.{operation}")


SQS_ACTIONS = {
    "SendMessage": "sqs:SendMessage",
    "SendMessageBatch": "sqs:SendMessage",
    "ReceiveMessage": "sqs:ReceiveMessage",
    "DeleteMessage": "sqs:DeleteMessage",
    "DeleteMessageBatch": "sqs:DeleteMessage",
    "ChangeMessageVisibility": "sqs:ChangeMessageVisibility",
    "ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
    "GetQueueAttributes": "sqs:GetQueueAttributes",
    "GetQueueUrl": "sqs:GetQueueUrl",
    "PurgeQueue": "sqs:PurgeQueue",
}


def _sqs(operation: str, params: Mapping[str, Any]) -> list[Request]:
    if operation not in SQS_ACTIONS:
        raise UnmappedError(f"sqs.{operation}")
    if operation == "GetQueueUrl":
        account, name = params.get("QueueOwnerAWSAccountId", ACCOUNT_ID), params["QueueName"]
    else:  # https://sqs.<region>.amazonaws.com/<account>/<name>, or moto's http://127.0.0.1:<port>/<account>/<name>
        account, name = urlsplit(params["QueueUrl"]).path.strip("/").split("/")[-2:]
    return [Request(SQS_ACTIONS[operation], f"arn:aws:sqs:{REGION}:{account}:{name}")]


def _secretsmanager(operation: str, params: Mapping[str, Any]) -> list[Request]:
    """Reading a secret, by its ARN or its name (AWS authorizes the secret's ARN either way)."""
    if operation != "GetSecretValue":
        raise UnmappedError(f"secretsmanager.{operation}")
    secret = str(params["SecretId"])
    arn = secret if secret.startswith("arn:") else f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:{secret}"
    return [Request("secretsmanager:GetSecretValue", arn, ())]


def _events(operation: str, params: Mapping[str, Any]) -> list[Request]:
    if operation != "PutEvents":
        raise UnmappedError(f"events.{operation}")
    requests = []
    for entry in params["Entries"]:
        bus = entry.get("EventBusName", "default")
        arn = bus if bus.startswith("arn:") else f"arn:aws:events:{REGION}:{ACCOUNT_ID}:event-bus/{bus}"
        keys = (("events:source", str(entry.get("Source"))), ("events:detail-type", str(entry.get("DetailType"))))
        requests.append(Request("events:PutEvents", arn, keys))
    return requests


# API Gateway's management API is authorized by HTTP method on the path it asks for:
# arn:aws:apigateway:<region>::<path>. The reads the functions make, and their paths.
APIGATEWAY_READS = {
    "GetUsagePlan": "/usageplans/{usagePlanId}",
    "GetUsage": "/usageplans/{usagePlanId}/usage",
    "GetApiKeys": "/apikeys",
}


def _apigateway(operation: str, params: Mapping[str, Any]) -> list[Request]:
    if operation not in APIGATEWAY_READS:
        raise UnmappedError(f"apigateway.{operation}")
    path = APIGATEWAY_READS[operation].format_map(params)
    return [Request("apigateway:GET", f"arn:aws:apigateway:{REGION}::{path}")]


# AWS's answer to a call no statement allows, by service: (error code, HTTP status).
REFUSALS = {
    "apigateway": ("AccessDeniedException", 403),
    "s3": ("AccessDenied", 403),
    "sqs": ("AccessDenied", 403),
    "dynamodb": ("AccessDeniedException", 400),
    "events": ("AccessDeniedException", 400),
}


# ---- the guard ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One authorization of one call: who asked, for what, and the answer."""

    function: str
    operation: str  # s3.GetObject; `presigned` when signed for someone else to send
    action: str
    resource: str
    allowed: bool
    context: tuple[tuple[str, str], ...] = ()
    presigned: bool = False

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Call:
        return cls(**{**data, "context": tuple((k, v) for k, v in data["context"])})


REFUSAL_KEY = "devstack_iam_refusal"


class Guard:
    """Authorizes each AWS call made while a function runs (`invoking()` names it) against that
    function's role; records each distinct call in `record` (JSON lines), if given."""

    def __init__(self, roles: Roles, invoking: Callable[[], str | None], record: Path | None = None) -> None:
        self.roles, self.invoking, self.record = roles, invoking, record
        self.calls: set[Call] = set()
        self._trial: list[Call] | None = None
        self._lock = threading.Lock()
        self._file: TextIO | None = None
        self._session: Any = None

    def install(self, session: boto3.Session | None = None) -> Guard:
        """Hooks into the clients the session makes from now on (boto3's default session by default)."""
        if self.record is not None:
            self._file = self.record.open("a")
            statements = {f: [asdict(s) for s in found] for f, found in self.roles.statements.items()}
            self._write({"roles": statements})
        if session is None and boto3.DEFAULT_SESSION is None:
            boto3.setup_default_session()
        self._session = session or boto3.DEFAULT_SESSION
        self._session.events.register("before-parameter-build", self._before_parameter_build)
        self._session.events.register("before-sign.s3.PutObject", self._before_presigned_post)
        self._session.events.register("before-call", self._before_call)
        return self

    def close(self) -> None:
        """Unhooks from clients made from now on; clients made before stop asking."""
        if self._session is not None:
            self._session.events.unregister("before-parameter-build", self._before_parameter_build)
            self._session.events.unregister("before-sign.s3.PutObject", self._before_presigned_post)
            self._session.events.unregister("before-call", self._before_call)
            self._session = None
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    @contextmanager
    def trial(self, roles: Roles) -> Iterator[list[Call]]:
        """Runs the block under other roles (tests: a template with a permission removed); its calls
        are collected in the yielded list instead of being recorded."""
        saved, self.roles, self._trial = self.roles, roles, []
        try:
            yield self._trial
        finally:
            self.roles, self._trial = saved, None

    def authorize(
        self, function: str, service: str, operation: str, params: Mapping[str, Any], *, presigned: bool
    ) -> str | None:
        """Records the call's authorizations; the refusal's message, if one was refused."""
        statements = self.roles.statements.get(function, [])
        try:
            requests = requests_for(service, operation, params)
        except UnmappedError:
            self._add(
                Call(function, f"{service}.{operation}", f"{service}:{operation}", "?", False, presigned=presigned)
            )
            return f"devstack.iam does not know what IAM authorizes for {service}.{operation}: add it to requests_for"
        refusal = None
        for request in requests:
            ok = allowed(statements, request)
            self._add(
                Call(
                    function, f"{service}.{operation}", request.action, request.resource, ok, request.context, presigned
                )
            )
            if not ok and refusal is None:
                role = self.roles.names.get(function, "(no role)")
                refusal = (
                    f"User: arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role}/{function} is not authorized to perform: "
                    f"{request.action} on resource: {request.resource} because no identity-based policy allows "
                    f"the {request.action} action"
                )
        return refusal

    def _before_parameter_build(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        function = self.invoking()
        if function is None or self._session is None:
            return
        presigned = bool(context.get("is_presign_request"))
        if presigned and model.name == "CreateBucket":
            return  # generate_presigned_post borrows CreateBucket's model; the form is checked when signed
        refusal = self.authorize(function, model.service_model.service_name, model.name, params, presigned=presigned)
        if refusal and not presigned:
            context[REFUSAL_KEY] = refusal

    def _before_presigned_post(self, request: Any, **_: Any) -> None:
        policy = request.context.get("s3-presign-post-policy")
        function = self.invoking()
        if policy is None or function is None or self._session is None:
            return
        fields: dict[str, str] = {}
        for condition in policy["conditions"]:
            if isinstance(condition, dict):
                fields.update({key.lower(): value for key, value in condition.items()})
            elif condition[0] == "starts-with" and condition[1] == "$key":  # any key under a prefix
                fields["key"] = f"{condition[2]}*"
        self.authorize(
            function,
            "s3",
            "PostObject",
            {"Bucket": fields["bucket"], "Key": fields["key"], "ACL": fields.get("acl")},
            presigned=True,
        )

    def _before_call(self, context: dict[str, Any], model: Any, **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        refusal = context.pop(REFUSAL_KEY, None)
        if refusal is None:
            return None
        code, status = REFUSALS.get(model.service_model.service_name, ("AccessDenied", 403))
        response = {"Error": {"Code": code, "Message": refusal}, "ResponseMetadata": {"HTTPStatusCode": status}}
        return AWSResponse(url="", status_code=status, headers={}, raw=None), response

    def _add(self, call: Call) -> None:
        with self._lock:
            if self._trial is not None:
                self._trial.append(call)
            elif call not in self.calls:
                self.calls.add(call)
                self._write({"call": asdict(call)})

    def _write(self, line: dict[str, Any]) -> None:
        if self._file is not None:
            self._file.write(json.dumps(line) + "\n")
            self._file.flush()


# ---- what a run shows -------------------------------------------------------------------------


@dataclass
class Summary:
    """The calls of one or more local stacks (their record files), against their roles."""

    stacks: int
    calls: set[Call]
    granted: dict[str, dict[str, list[str]]]  # function -> template policy -> its action patterns
    unused: dict[str, dict[str, list[str]]]  # the same, only those no allowed call used

    @property
    def refused(self) -> list[Call]:
        return sorted((call for call in self.calls if not call.allowed), key=lambda c: (c.function, c.action))

    def lines(self) -> list[str]:
        functions = {call.function for call in self.calls}
        lines = [
            f"{len(self.calls)} distinct AWS calls by {len(functions)} functions in {self.stacks} local stack(s), "
            f"each authorized against its function's role from template.yaml: {len(self.refused)} refused."
        ]
        refused: dict[tuple[str, str, str, bool], dict[str, None]] = {}  # the resources, in order, once each
        for call in self.refused:
            refused.setdefault((call.function, call.action, call.operation, call.presigned), {})[call.resource] = None
        for (function, action, operation, presigned), found in refused.items():
            resources = list(found)
            on = resources[0] if len(resources) == 1 else f"{len(resources)} resources, as {resources[0]}"
            how = " (presigned: the request made with it would be refused)" if presigned else ""
            lines.append(f"  REFUSED {function}: {action} on {on} by {operation}{how}")
        if self.unused:
            lines.append("Granted by template.yaml, used by no call in this run:")
        for function, policies in sorted(self.unused.items()):
            for policy, actions in sorted(policies.items()):
                granted = self.granted[function][policy]
                unused = ", ".join(actions) if actions != granted else f"all {len(granted)} of its actions"
                lines.append(f"  {function} {policy}: {unused}")
        return lines


def summarize(records: Iterable[Path]) -> Summary:
    calls: set[Call] = set()
    granted: set[tuple[str, str, str]] = set()  # (function, policy, action pattern) from the template
    used: set[tuple[str, str, str]] = set()
    stacks = 0
    for record in records:
        stacks += 1
        roles: dict[str, list[Statement]] = {}
        mine: set[Call] = set()
        for line in record.read_text().splitlines():
            data = json.loads(line)
            if "roles" in data:
                roles = {f: [Statement.from_dict(s) for s in found] for f, found in data["roles"].items()}
            else:
                mine.add(Call.from_dict(data["call"]))
        calls |= mine
        for function, statements in roles.items():
            requests = [Request(c.action, c.resource, c.context) for c in mine if c.function == function and c.allowed]
            for statement in statements:
                if statement.origin != "template" or statement.effect != "Allow" or statement.not_action:
                    continue
                for pattern in statement.actions:
                    granted.add((function, statement.policy, pattern))
                    if any(statement.covers(request, [pattern]) for request in requests):
                        used.add((function, statement.policy, pattern))

    def grouped(found: set[tuple[str, str, str]]) -> dict[str, dict[str, list[str]]]:
        by_function: dict[str, dict[str, list[str]]] = {}
        for function, policy, pattern in sorted(found):
            by_function.setdefault(function, {}).setdefault(policy, []).append(pattern)
        return by_function

    return Summary(stacks, calls, grouped(granted), grouped(granted - used))
