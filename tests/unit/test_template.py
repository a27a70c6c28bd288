"""Invariants of template.yaml that cfn-lint cannot know: they come from how the code uses it."""

from __future__ import annotations

import ast
import contextlib
import io
import json
import re
import shutil
import subprocess
import typing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import imagejobs
from devstack.template import ROOT, TEMPLATE, Template, load
from imagejobs import api
from imagejobs.services import measures
from imagejobs.store import storage
from tests import emf

FUNCTION = "AWS::Serverless::Function"
CODECS = {"pyvips", "PIL", "pillow_heif", "pillow_jxl", "pymupdf", "fitz", "rawpy"}  # the codec layers' import names
COMMON = ROOT / "layers" / "common"


@pytest.fixture(scope="module")
def template() -> Template:
    return Template.read("imagejobs-test")


def functions(template: Template) -> dict[str, dict[str, Any]]:
    return {lid: template.function_properties(lid) for lid in template.resources(FUNCTION)}


def events(properties: dict[str, Any], type_: str) -> list[dict[str, Any]]:
    return [event["Properties"] for event in properties.get("Events", {}).values() if event["Type"] == type_]


def get_att_target(value: Any) -> str:
    assert isinstance(value, dict), f"expected !GetAtt X.Arn, got {value!r}"
    assert "Fn::GetAtt" in value, f"expected !GetAtt X.Arn, got {value!r}"
    logical_id, attribute = value["Fn::GetAtt"]
    assert attribute == "Arn"
    return str(logical_id)


def queues_feeding_functions(template: Template) -> dict[str, str]:
    """Queue logical id -> the function its SQS event source feeds."""
    return {
        get_att_target(event["Queue"]): lid
        for lid, properties in functions(template).items()
        for event in events(properties, "SQS")
    }


# ---- queues and their consumers ---------------------------------------------------------------


def test_jobs_queue_visibility_timeout_is_at_least_six_times_the_process_timeout(template: Template) -> None:
    visibility = int(template.body["Resources"]["JobsQueue"]["Properties"]["VisibilityTimeout"])
    timeout = int(template.function_properties("ProcessFunction")["Timeout"])
    assert visibility >= 6 * timeout, f"VisibilityTimeout {visibility} < 6 x Timeout {timeout}"


def test_every_queue_visibility_timeout_is_at_least_six_times_its_consumers_timeout(template: Template) -> None:
    resources = template.body["Resources"]
    for queue, function in queues_feeding_functions(template).items():
        visibility = int(resources[queue]["Properties"].get("VisibilityTimeout", 30))
        timeout = int(template.function_properties(function)["Timeout"])
        assert visibility >= 6 * timeout, f"{queue}: VisibilityTimeout {visibility} < 6 x {function} Timeout {timeout}"


def test_every_sqs_event_reports_batch_item_failures(template: Template) -> None:
    sqs_events = {lid: events(properties, "SQS") for lid, properties in functions(template).items()}
    assert any(sqs_events.values()), "no function has an SQS event"
    for lid, function_events in sqs_events.items():
        for event in function_events:
            assert "ReportBatchItemFailures" in event.get("FunctionResponseTypes", []), lid


def test_every_queue_feeding_a_function_parks_failures_in_its_own_dead_letter_queue(template: Template) -> None:
    resources = template.body["Resources"]
    feeding = queues_feeding_functions(template)
    # The jobs DLQ is consumed too: its function fails the jobs whose every delivery was stopped; so is
    # the fan-out's: the fan-out function ends the listing of a batch whose page arrives there.
    assert set(feeding) == {
        "JobsQueue",
        "CallbacksQueue",
        "ArchivesQueue",
        "FanOutQueue",
        "JobsDeadLetterQueue",
        "FanOutDeadLetterQueue",
    }
    for queue in ("JobsQueue", "CallbacksQueue", "ArchivesQueue", "FanOutQueue"):
        redrive = resources[queue]["Properties"].get("RedrivePolicy")
        assert redrive is not None, f"{queue} has no RedrivePolicy"
        dlq = get_att_target(redrive["deadLetterTargetArn"])
        assert resources[dlq]["Type"] == "AWS::SQS::Queue"
        assert dlq != queue
        assert "RedrivePolicy" not in resources[dlq]["Properties"]  # what fails there stays there, for operators
        assert int(template.resolve(redrive["maxReceiveCount"])) >= 1
    assert feeding["JobsDeadLetterQueue"] == "JobsDeadLetterFunction"
    assert feeding["FanOutDeadLetterQueue"] == feeding["FanOutQueue"] == "FanOutFunction"


def test_jobs_queue_max_receive_count_is_the_process_functions_max_receive_count(template: Template) -> None:
    # The processor fails a job on its last delivery; the two numbers must be the same one.
    redrive = template.body["Resources"]["JobsQueue"]["Properties"]["RedrivePolicy"]
    environment = template.function_properties("ProcessFunction")["Environment"]["Variables"]
    from_mappings = {"Fn::FindInMap": ["Queues", "Jobs", "MaxReceiveCount"]}
    assert redrive["maxReceiveCount"] == from_mappings
    assert environment["MAX_RECEIVE_COUNT"] == from_mappings
    assert int(template.resolve(redrive["maxReceiveCount"])) == int(template.resolve(environment["MAX_RECEIVE_COUNT"]))


# ---- layers, policies, runtime ----------------------------------------------------------------


def _module_file(module: str) -> Path | None:
    base = COMMON.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path) -> set[str]:
    """Every module `path` imports, anywhere in it (lazy imports included), with their packages."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(
                f"{node.module}.{alias.name}" for alias in node.names if _module_file(f"{node.module}.{alias.name}")
            )
    return {".".join(name.split(".")[: i + 1]) for name in found for i in range(name.count(".") + 1)}


def reachable_third_party(handler: Path) -> set[str]:
    """Top-level names of the non-imagejobs modules a handler imports, through imagejobs, transitively."""
    seen: set[str] = set()
    outside: set[str] = set()
    pending = [handler]
    while pending:
        for name in _imports(pending.pop()):
            if name.split(".")[0] != "imagejobs":
                outside.add(name.split(".")[0])
            elif name not in seen and (module := _module_file(name)) is not None:
                seen.add(name)
                pending.append(module)
    return outside


def handler_file(properties: dict[str, Any]) -> Path:
    module = properties["Handler"].rsplit(".", 1)[0]
    return ROOT / properties["CodeUri"] / f"{module.replace('.', '/')}.py"


def test_the_codecs_layer_is_attached_exactly_to_the_functions_that_import_codecs(template: Template) -> None:
    codecs_layer = {"Ref": "CodecsLayer"}
    with_layer = {lid for lid, p in functions(template).items() if codecs_layer in p.get("Layers", [])}
    decoding = {lid for lid, p in functions(template).items() if reachable_third_party(handler_file(p)) & CODECS}
    assert with_layer == {"ProcessFunction"}
    assert decoding == with_layer
    raw_layer = {"Ref": "RawLayer"}
    assert {lid for lid, p in functions(template).items() if raw_layer in p.get("Layers", [])} == with_layer


def test_the_common_layer_reaches_every_function_through_globals(template: Template) -> None:
    assert {"Ref": "CommonLayer"} in template.body["Globals"]["Function"]["Layers"]
    for lid, properties in functions(template).items():
        assert properties["Layers"].count({"Ref": "CommonLayer"}) == 1, lid


def _contains_key(value: Any, key: str) -> bool:
    if isinstance(value, dict):
        return key in value or any(_contains_key(v, key) for v in value.values())
    if isinstance(value, list):
        return any(_contains_key(v, key) for v in value)
    return False


# Serves data from its own code and calls no AWS service: no policy at all is the least privilege.
NO_AWS = {"CatalogueFunction"}
# Reads API Gateway's usage plans, which no SAM policy template covers: one statement, GET only, on
# named resources (the stack's plans and the key list).
API_GATEWAY_READS = {"UsageFunction"}


def connected_bucket_policies(policies: list[Any]) -> tuple[list[Any], list[Any]]:
    """A function's Policies: those on the connected buckets (each `!If [<bucket parameter's condition>,
    {Statement: …}, !Ref AWS::NoValue]`), and the others."""
    conditions = ("BucketsConnected", "ReadOnlyBucketsConnected")
    connected = [p for p in policies if isinstance(p, dict) and p.get("Fn::If", [None])[0] in conditions]
    return connected, [p for p in policies if p not in connected]


def test_every_function_has_sam_policy_templates_scoped_to_one_resource_and_no_statements(template: Template) -> None:
    """But the statements on the connected buckets: no SAM policy template takes a list of buckets
    (what they grant is held to exactly those buckets below)."""
    for lid, properties in functions(template).items():
        policies = properties.get("Policies", [])
        if lid in NO_AWS:
            assert not policies, f"{lid} calls no AWS service"
            continue
        if lid in API_GATEWAY_READS:
            ((statement,),) = [policy["Statement"] for policy in policies]
            assert (statement["Effect"], statement["Action"]) == ("Allow", "apigateway:GET"), lid
            assert "*" not in json.dumps(statement["Resource"]), f"{lid}: a wildcard resource"
            continue
        assert policies, f"{lid} has no Policies"
        connected, policies = connected_bucket_policies(policies)
        assert not connected or lid in ("ProcessFunction", "FanOutFunction"), f"{lid} reaches the connected buckets"
        for policy in policies:
            assert isinstance(policy, dict), f"{lid}: {policy!r} is not a SAM policy template"
            assert len(policy) == 1, f"{lid}: {policy!r}"
            [(name, scope)] = policy.items()
            assert name.endswith("Policy"), f"{lid}: {name} is not a SAM policy template"
            assert not _contains_key(policy, "Statement"), f"{lid}: hand-written statement in {name}"
            assert isinstance(scope, dict), f"{lid}: {name} is not scoped to a resource"
            assert len(scope) == 1, f"{lid}: {name} is not scoped to one resource"


def connected_statements(buckets: str, read_only: str, function: str = "ProcessFunction") -> list[dict[str, Any]]:
    """A function's statements on the connected buckets, the template's parameters set so."""
    bound = Template.read("imagejobs-test", {"ConnectedBuckets": buckets, "ConnectedReadOnlyBuckets": read_only})
    connected, _ = connected_bucket_policies(bound.function_properties(function)["Policies"])
    resolved = [bound.resolve(policy) for policy in connected]
    return [statement for policy in resolved if isinstance(policy, dict) for statement in policy["Statement"]]


def test_the_connected_buckets_are_read_and_written_by_their_arns_and_nothing_else() -> None:
    statements = connected_statements("media,photos", "originals")

    allowed = {(action, resource) for s in statements for action in _strings(s["Action"]) for resource in s["Resource"]}
    assert all(s["Effect"] == "Allow" and set(s) == {"Effect", "Action", "Resource"} for s in statements)
    assert allowed == {
        *(
            (action, f"arn:aws:s3:::{bucket}/*")
            for bucket in ("media", "photos", "originals")
            for action in ("s3:GetObject", "s3:GetObjectVersion")
        ),
        *(("s3:PutObject", f"arn:aws:s3:::{bucket}/*") for bucket in ("media", "photos")),
        *(("s3:ListBucket", f"arn:aws:s3:::{bucket}") for bucket in ("media", "photos", "originals")),
    }


def test_the_fan_out_only_lists_the_connected_buckets() -> None:
    statements = connected_statements("media,photos", "originals", "FanOutFunction")

    allowed = {(action, resource) for s in statements for action in _strings(s["Action"]) for resource in s["Resource"]}
    assert allowed == {("s3:ListBucket", f"arn:aws:s3:::{bucket}") for bucket in ("media", "photos", "originals")}
    assert connected_statements("", "", "FanOutFunction") == []


def test_with_no_connected_bucket_the_role_has_no_statement_on_any() -> None:
    assert connected_statements("", "") == []
    assert {s["Action"] == "s3:ListBucket" for s in connected_statements("media", "")} == {True, False}


def test_the_functions_are_told_the_connected_buckets() -> None:
    bound = Template.read("imagejobs-test", {"ConnectedBuckets": "media,photos", "ConnectedReadOnlyBuckets": ""})
    variables = bound.body["Globals"]["Function"]["Environment"]["Variables"]

    assert bound.resolve(variables["CONNECTED_BUCKETS"]) == "media,photos"
    assert bound.resolve(variables["CONNECTED_READ_ONLY_BUCKETS"]) == ""
    for name in ("ConnectedBuckets", "ConnectedReadOnlyBuckets"):
        assert bound.body["Parameters"][name] == {
            **bound.body["Parameters"][name],
            "Type": "CommaDelimitedList",
            "Default": "",
        }


def _strings(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value]


def test_the_architecture_parameter_defaults_to_arm64_and_allows_x86_64(template: Template) -> None:
    parameter = template.body["Parameters"]["Architecture"]
    assert parameter["Default"] == "arm64"
    assert set(parameter["AllowedValues"]) == {"arm64", "x86_64"}
    assert template.body["Globals"]["Function"]["Architectures"] == [{"Ref": "Architecture"}]
    for lid, layer in template.resources("AWS::Serverless::LayerVersion").items():
        assert layer["Properties"]["CompatibleArchitectures"] == [{"Ref": "Architecture"}], lid


def test_functions_run_on_python_3_13_from_globals(template: Template) -> None:
    assert template.body["Globals"]["Function"]["Runtime"] == "python3.13"
    for lid, properties in functions(template).items():
        assert properties["Runtime"] == "python3.13", lid
    for lid, layer in template.resources("AWS::Serverless::LayerVersion").items():
        assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"], lid


# ---- storage ----------------------------------------------------------------------------------


def test_the_bucket_blocks_public_access_and_is_encrypted(template: Template) -> None:
    bucket = template.body["Resources"]["Bucket"]["Properties"]
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    [rule] = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms", "aws:kms:dsse"}


def test_the_bucket_policy_denies_every_request_without_tls(template: Template) -> None:
    policies = [p["Properties"] for p in template.resources("AWS::S3::BucketPolicy").values()]
    [policy] = [p for p in policies if p["Bucket"] == {"Ref": "Bucket"}]
    tls_only = [
        s
        for s in policy["PolicyDocument"]["Statement"]
        if s.get("Effect") == "Deny"  # (the CDN statement is an Fn::If)
        and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") in ("false", False)
    ]
    assert tls_only, "no Deny on aws:SecureTransport false"
    [statement] = tls_only
    assert statement["Principal"] == "*"
    assert statement["Action"] in ("s3:*", ["s3:*"])
    resources = statement["Resource"]
    assert {"Fn::GetAtt": ["Bucket", "Arn"]} in resources, "the bucket itself is not covered"
    assert {"Fn::Sub": "${Bucket.Arn}/*"} in resources, "the bucket's objects are not covered"


def test_uploads_notify_the_jobs_queue_under_the_upload_prefix(template: Template) -> None:
    bucket = template.body["Resources"]["Bucket"]
    [notification] = bucket["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    assert get_att_target(notification["Queue"]) == "JobsQueue"
    assert notification["Event"] == "s3:ObjectCreated:*"
    rules = {r["Name"]: r["Value"] for r in notification["Filter"]["S3Key"]["Rules"]}
    assert rules == {"prefix": storage.UPLOAD_PREFIX}
    # S3 checks it may send to the queue when the notification is created: the policy comes first.
    queue_policy = template.body["Resources"][bucket["DependsOn"]]
    assert queue_policy["Type"] == "AWS::SQS::QueuePolicy"
    assert {"Ref": "JobsQueue"} in queue_policy["Properties"]["Queues"]
    [statement] = queue_policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"


def test_the_table_expires_items_on_the_ttl_attribute(template: Template) -> None:
    ttl = template.body["Resources"]["Table"]["Properties"]["TimeToLiveSpecification"]
    assert ttl == {"AttributeName": "ttl", "Enabled": True}


# ---- functions and routes ---------------------------------------------------------------------


def resolver_routes(handler: Path) -> set[tuple[str, str]]:
    """(method, path) of every `@router.<method>("<path>")` (or `@app.`) route in a Powertools handler module."""
    routes = set()
    for node in ast.walk(ast.parse(handler.read_text())):
        if isinstance(node, ast.FunctionDef):
            for decorator in node.decorator_list:
                if (
                    isinstance(decorator, ast.Call)
                    and isinstance(decorator.func, ast.Attribute)
                    and isinstance(decorator.func.value, ast.Name)
                    and decorator.func.value.id in ("app", "router")
                    and decorator.args
                    and isinstance(decorator.args[0], ast.Constant)
                ):
                    routes.add((decorator.func.attr, str(decorator.args[0].value)))
    return routes


def defines(handler: Path, name: str) -> bool:
    tree = ast.parse(handler.read_text())
    return any(isinstance(node, ast.FunctionDef) and node.name == name for node in tree.body)


def test_every_function_has_its_handler_under_its_code_uri(template: Template) -> None:
    for lid, properties in functions(template).items():
        handler = handler_file(properties)
        assert handler.is_file(), f"{lid}: {handler.relative_to(ROOT)} is missing"
        assert defines(handler, properties["Handler"].rsplit(".", 1)[1]), f"{lid}: no {properties['Handler']}"


def test_every_api_event_is_routed_by_its_functions_resolver(template: Template) -> None:
    api_events = 0
    for lid, properties in functions(template).items():
        for event in events(properties, "Api"):
            if event["Method"] == "options":
                continue  # preflights: imagejobs.api answers them on any path, before routing
            api_events += 1
            path = re.sub(r"\{(\w+)\}", r"<\1>", event["Path"])  # API Gateway {id} -> Powertools <id>
            routes = resolver_routes(handler_file(properties))
            assert (event["Method"].lower(), path) in routes, (
                f"{lid}: {event['Method']} {event['Path']} not in {routes}"
            )
            assert event["RestApiId"] == {"Ref": "Api"}
    assert api_events >= 3


# ---- encryption, backups and logs (the fixes of checkov's findings) -----------------------------


def test_every_queue_is_encrypted_at_rest(template: Template) -> None:
    queues = template.resources("AWS::SQS::Queue")
    assert len(queues) == 9
    for lid, queue in queues.items():
        properties = queue["Properties"]
        assert properties.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in properties, lid


def test_every_table_is_encrypted_and_the_one_of_tenants_keys_and_jobs_can_be_restored(template: Template) -> None:
    for lid, table in template.resources("AWS::DynamoDB::Table").items():
        assert table["Properties"]["SSESpecification"] == {"SSEEnabled": True}, lid
    table = template.body["Resources"]["Table"]["Properties"]
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_every_log_group_keeps_its_logs_for_log_retention_in_days(template: Template) -> None:
    groups = template.resources("AWS::Logs::LogGroup")
    assert len(groups) == 2
    for lid, group in groups.items():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionInDays"}, lid
    assert 1 <= int(template.parameters["LogRetentionInDays"]) <= 90


def test_every_function_logs_to_the_stacks_log_group(template: Template) -> None:
    for lid, properties in functions(template).items():
        target = properties["LoggingConfig"]["LogGroup"]
        assert target == {"Ref": "FunctionsLogGroup"}, lid
    assert template.body["Resources"]["FunctionsLogGroup"]["Type"] == "AWS::Logs::LogGroup"


def test_the_api_writes_a_json_access_log_once_the_account_lets_api_gateway_log(template: Template) -> None:
    resources = template.body["Resources"]
    api = resources["Api"]
    setting = api["Properties"]["AccessLogSetting"]
    assert resources[get_att_target(setting["DestinationArn"])]["Type"] == "AWS::Logs::LogGroup"
    fields = json.loads(setting["Format"])
    assert fields["requestId"] == "$context.requestId"  # API Gateway refuses a format without it
    assert {"status", "route", "tenant", "tier", "ip", "latencyMs"} <= set(fields)
    # A stage may log only once the account's API Gateway settings name a CloudWatch role.
    account = resources[api["DependsOn"]]
    assert account["Type"] == "AWS::ApiGateway::Account"
    role = resources[get_att_target(account["Properties"]["CloudWatchRoleArn"])]
    assert role["Type"] == "AWS::IAM::Role"
    [statement] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "apigateway.amazonaws.com"}
    [policy] = role["Properties"]["ManagedPolicyArns"]
    assert policy["Fn::Sub"].endswith(":iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs")
    # Other APIs of the account log with the same setting: deleting the stack keeps both.
    assert account["DeletionPolicy"] == role["DeletionPolicy"] == "Retain"


def test_process_concurrency_is_reserved_and_its_queue_invokes_no_more_unless_the_parameter_is_0(
    template: Template,
) -> None:
    properties = template.function_properties("ProcessFunction")
    limit = {"Ref": "ProcessReservedConcurrency"}
    unset = {"Ref": "AWS::NoValue"}
    assert properties["ReservedConcurrentExecutions"] == {"Fn::If": ["ProcessConcurrencyLimited", limit, unset]}
    [event] = events(properties, "SQS")
    assert event["ScalingConfig"] == {"Fn::If": ["ProcessConcurrencyLimited", {"MaximumConcurrency": limit}, unset]}
    assert template.condition("ProcessConcurrencyLimited")
    assert int(template.parameters["ProcessReservedConcurrency"]) >= 2  # the least MaximumConcurrency takes
    assert not Template.read("t", {"ProcessReservedConcurrency": "0"}).condition("ProcessConcurrencyLimited")


CHECKS_FIXED = {
    "CKV_AWS_76": "API Gateway access logs",
    "CKV_AWS_66": "log retention",
    "CKV_AWS_73": "X-Ray tracing on the API",
}


def checkov_skips(template: Template) -> list[tuple[str, dict[str, str]]]:
    return [
        (lid, skip)
        for lid, resource in template.body["Resources"].items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]


def test_every_checkov_skip_gives_its_reason_and_none_hides_a_fixed_check(template: Template) -> None:
    skips = checkov_skips(template)
    assert skips
    for lid, skip in skips:
        assert set(skip) == {"id", "comment"}, f"{lid}: {skip}"
        assert re.fullmatch(r"CKV2?_AWS_\d+", skip["id"]), f"{lid}: {skip}"
        assert len(skip["comment"].split()) >= 6, f"{lid}: say why {skip['id']} does not apply"
        assert skip["id"] not in CHECKS_FIXED, f"{lid}: {CHECKS_FIXED.get(skip['id'])} is fixed, not skipped"
    skipped = {(lid, skip["id"]) for lid, skip in skips}
    assert ("Table", "CKV_AWS_28") not in skipped, "the main table keeps point-in-time recovery"
    assert ("ProcessFunction", "CKV_AWS_115") not in skipped, "process has its reserved concurrency"


# ---- alarms and the dashboard -----------------------------------------------------------------


def alarms(template: Template) -> dict[str, dict[str, Any]]:
    return {lid: resource["Properties"] for lid, resource in template.resources("AWS::CloudWatch::Alarm").items()}


class _Attributes(dict[str, str]):
    """GetAtt values of a resource that stand for themselves: `<Queue.QueueName>`."""

    def __init__(self, logical_id: str) -> None:
        super().__init__()
        self.logical_id = logical_id

    def __missing__(self, attribute: str) -> str:
        return f"<{self.logical_id}.{attribute}>"


@pytest.fixture(scope="module")
def named(template: Template) -> Template:
    """The template with every resource's Ref and GetAtt standing for themselves (`<ProcessFunction>`)."""
    named = Template.read(template.stack_name)
    for lid, resource in named.body["Resources"].items():
        named.refs[lid] = f"<{lid}>"
        named.attributes[lid] = _Attributes(lid)
        if resource["Type"] == "AWS::Serverless::Api":
            named.refs[f"{lid}.Stage"] = f"<{lid}.Stage>"  # SAM's reference to the Api's stage
    return named


def alarm_metric(named: Template, alarm: dict[str, Any]) -> tuple[str, str, dict[str, str]]:
    dimensions = {d["Name"]: named.resolve(d["Value"]) for d in alarm.get("Dimensions", [])}
    return alarm["Namespace"], alarm["MetricName"], dimensions


def dashboard(named: Template) -> dict[str, Any]:
    body = named.resolve(named.body["Resources"]["Dashboard"]["Properties"]["DashboardBody"])
    return dict(json.loads(body))


SEARCH = re.compile(r"SEARCH\('\{([\w/,]+)\} MetricName=\"(\w+)\"', '\w+', \d+\)")


def metrics_read(template: Template, named: Template) -> list[tuple[str, str, str, dict[str, str] | None, set[str]]]:
    """(where, namespace, metric, dimensions or None for a SEARCH, dimension names) of every metric
    the alarms and the dashboard read."""
    read: list[tuple[str, str, str, dict[str, str] | None, set[str]]] = []
    for lid, alarm in alarms(template).items():
        namespace, name, dimensions = alarm_metric(named, alarm)
        read.append((lid, namespace, name, dimensions, set(dimensions)))
    for widget in dashboard(named)["widgets"]:
        if widget["type"] != "metric":
            continue
        where = f"dashboard: {widget['properties']['title']}"
        for entry in widget["properties"]["metrics"]:
            if isinstance(entry[0], dict):
                match = SEARCH.fullmatch(entry[0]["expression"])
                assert match, f"{where}: {entry[0]['expression']}"
                namespace, *names = match[1].split(",")
                read.append((where, namespace, match[2], None, set(names)))
                continue
            namespace, name, *rest = entry
            if rest and isinstance(rest[-1], dict):
                rest.pop()  # the line's options
            assert "." not in (namespace, name) and len(rest) % 2 == 0, f"{where}: spell out {entry}"
            dimensions = dict(zip(rest[::2], rest[1::2], strict=True))
            read.append((where, namespace, name, dimensions, set(dimensions)))
    return read


def metrics_namespace_and_service(template: Template) -> tuple[str, str]:
    variables = template.body["Globals"]["Function"]["Environment"]["Variables"]
    return variables["POWERTOOLS_METRICS_NAMESPACE"], variables["POWERTOOLS_SERVICE_NAME"]


@pytest.fixture(scope="module")
def emitted(template: Template) -> list[emf.Datum]:
    """What measures.py prints for every job and callback status, in a function with the template's
    environment (namespace and service)."""
    namespace, service = metrics_namespace_and_service(template)
    moment = datetime(2025, 3, 1, tzinfo=UTC)
    printed = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(printed):
        patch.setattr(measures.metrics, "namespace", namespace)
        patch.setattr(measures.metrics, "service", service)
        patch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
        patch.delenv("POWERTOOLS_DEV", raising=False)
        for status in typing.get_args(measures.JobStatus):
            measures.job_ended(
                status=status,
                error_code="internal" if status == "failed" else None,
                tier="keyed",
                queued_at=moment,
                started_at=moment,
                finished_at=moment,
                source_bytes=1,
                outputs=[("webp", 1)],
            )
        for callback_status in typing.get_args(measures.CallbackStatus):
            measures.callback_attempted(callback_status)
    return emf.read(printed.getvalue())


# AWS's own metrics the template reads: their names, and the dimensions they are published with.
AWS_METRICS = {
    "AWS/SQS": ({"QueueName"}, {"ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage"}),
    "AWS/Lambda": ({"FunctionName"}, {"Invocations", "Errors", "Throttles", "ConcurrentExecutions", "Duration"}),
    "AWS/ApiGateway": ({"ApiName", "Stage"}, {"Count", "4XXError", "5XXError", "Latency", "IntegrationLatency"}),
}


def test_every_metric_the_alarms_and_dashboard_read_is_one_the_stack_emits(
    template: Template, named: Template, emitted: list[emf.Datum]
) -> None:
    namespace, _ = metrics_namespace_and_service(template)
    ours = {(d.namespace, d.name, d.dimensions) for d in emitted}
    our_schemas = {(d.namespace, d.name, d.dimension_names) for d in emitted}
    read = metrics_read(template, named)
    assert {r[1] for r in read} == {namespace, *AWS_METRICS}
    resources = template.body["Resources"]
    for where, space, name, dimensions, names in read:
        if space == namespace:
            if dimensions is None:
                assert (space, name, frozenset(names)) in our_schemas, f"{where}: nothing emits {name} by {names}"
            else:
                key = (space, name, tuple(sorted(dimensions.items())))
                assert key in ours, f"{where}: nothing emits {name} with {dimensions}"
            continue
        assert dimensions is not None, f"{where}: search AWS metrics by name"
        expected_names, known = AWS_METRICS[space]
        assert name in known and names == expected_names, f"{where}: {space} {name} by {names}"
        if space == "AWS/SQS":
            queue, attribute = dimensions["QueueName"].strip("<>").split(".")
            assert resources[queue]["Type"] == "AWS::SQS::Queue" and attribute == "QueueName", where
        elif space == "AWS/Lambda":
            assert resources[dimensions["FunctionName"].strip("<>")]["Type"] == FUNCTION, where
        else:
            assert dimensions == {"ApiName": template.stack_name, "Stage": "<Api.Stage>"}, where
    # The API's name is what its metrics' ApiName dimension says.
    assert resources["Api"]["Properties"]["Name"] == {"Ref": "AWS::StackName"}


def test_alarms_read_our_metrics_in_the_namespace_and_service_the_functions_write(template: Template) -> None:
    namespace, service = metrics_namespace_and_service(template)
    for lid, alarm in alarms(template).items():
        assert "Unit" not in alarm, f"{lid}: a Unit other than the emitted one would read no data"
        if alarm["Namespace"] not in AWS_METRICS:
            assert alarm["Namespace"] == namespace, lid
            assert {"Name": "service", "Value": service} in alarm["Dimensions"], lid


def test_every_alarm_tells_the_alarm_topic_when_it_fires_and_when_it_clears(template: Template) -> None:
    assert template.body["Resources"]["AlarmTopic"]["Type"] == "AWS::SNS::Topic"
    found = alarms(template)
    assert len(found) == 9
    for lid, alarm in found.items():
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}], lid
        assert alarm["OKActions"] == [{"Ref": "AlarmTopic"}], lid
        assert alarm["TreatMissingData"] == "notBreaching", lid  # no requests, no jobs: nothing wrong
        assert "Operations" in alarm["AlarmDescription"], f"{lid}: point at what to do"


def test_alarms_are_mailed_to_alarm_email_only_when_one_is_given(template: Template) -> None:
    assert template.parameters["AlarmEmail"] == ""
    assert template.resources("AWS::SNS::Subscription") == {}
    given = Template.read("t", {"AlarmEmail": "ops@example.com"})
    [subscription] = given.resources("AWS::SNS::Subscription").values()
    assert subscription["Properties"] == {
        "TopicArn": {"Ref": "AlarmTopic"},
        "Protocol": "email",
        "Endpoint": {"Ref": "AlarmEmail"},
    }


def dead_letter_queues(template: Template) -> set[str]:
    """Queues that hold what failed: SQS redrive targets and event sources' on-failure destinations."""
    redrive = {
        get_att_target(queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"])
        for queue in template.resources("AWS::SQS::Queue").values()
        if "RedrivePolicy" in queue["Properties"]
    }
    on_failure = {
        get_att_target(event["DestinationConfig"]["OnFailure"]["Destination"])
        for properties in functions(template).values()
        for event in events(properties, "DynamoDB")
        if "DestinationConfig" in event
    }
    return redrive | on_failure


def test_every_dead_letter_queue_alarms_as_soon_as_it_holds_a_message(template: Template, named: Template) -> None:
    dlqs = dead_letter_queues(template)
    assert dlqs == {
        "JobsDeadLetterQueue",
        "CallbacksDeadLetterQueue",
        "ArchivesDeadLetterQueue",
        "ExpiryDeadLetterQueue",
        "FanOutDeadLetterQueue",
    }
    watched = set()
    for lid, alarm in alarms(template).items():
        namespace, name, dimensions = alarm_metric(named, alarm)
        if (namespace, name) != ("AWS/SQS", "ApproximateNumberOfMessagesVisible"):
            continue
        assert (alarm["Statistic"], alarm["ComparisonOperator"], alarm["Threshold"]) == (
            "Maximum",
            "GreaterThanThreshold",
            0,
        ), lid
        assert alarm["EvaluationPeriods"] == 1, lid
        watched.add(dimensions["QueueName"].strip("<>").removesuffix(".QueueName"))
    assert watched == dlqs


def test_the_process_function_alarms_on_any_error_and_any_throttle(template: Template, named: Template) -> None:
    found = {}
    for lid, alarm in alarms(template).items():
        namespace, name, dimensions = alarm_metric(named, alarm)
        if namespace == "AWS/Lambda":
            assert dimensions == {"FunctionName": "<ProcessFunction>"}, lid
            found[name] = alarm
    assert set(found) == {"Errors", "Throttles"}
    for name, alarm in found.items():
        assert (alarm["Statistic"], alarm["ComparisonOperator"], alarm["Threshold"]) == (
            "Sum",
            "GreaterThanThreshold",
            0,
        ), name


def test_the_api_alarms_on_its_share_of_5xx_answers(template: Template, named: Template) -> None:
    [alarm] = [a for a in alarms(template).values() if alarm_metric(named, a)[:2] == ("AWS/ApiGateway", "5XXError")]
    assert alarm["Statistic"] == "Average"  # 5XXError is 1 per 5xx answer and 0 otherwise: its average is the share
    assert 0 < float(alarm["Threshold"]) <= 0.05


def test_job_latency_alarms_on_the_95th_percentile_of_job_duration(template: Template) -> None:
    [alarm] = [a for a in alarms(template).values() if a["MetricName"] == measures.JOB_DURATION]
    assert alarm["ExtendedStatistic"] == "p95"
    assert alarm["Threshold"] == {"Ref": "JobLatencyAlarmMilliseconds"}
    timeout_ms = 1000 * int(template.function_properties("ProcessFunction")["Timeout"])
    assert int(template.parameters["JobLatencyAlarmMilliseconds"]) < timeout_ms


def test_the_dashboard_shows_every_alarm(template: Template, named: Template) -> None:
    [widget] = [w for w in dashboard(named)["widgets"] if w["type"] == "alarm"]
    assert set(widget["properties"]["alarms"]) == {f"<{lid}.Arn>" for lid in alarms(template)}


def api_events(template: Template) -> list[tuple[str, dict[str, Any]]]:
    return [(lid, event) for lid, properties in functions(template).items() for event in events(properties, "Api")]


def test_every_path_of_the_api_has_a_public_preflight_answered_by_the_meta_function(template: Template) -> None:
    paths = {event["Path"] for _, event in api_events(template) if event["Method"] != "options"}
    preflights = {event["Path"]: (lid, event) for lid, event in api_events(template) if event["Method"] == "options"}

    assert set(preflights) == paths, f"add a Preflight event for {paths - set(preflights)}"
    for lid, event in preflights.values():
        assert lid == "MetaFunction"
        assert event["Auth"] == {"Authorizer": "NONE", "ApiKeyRequired": False}, event["Path"]
    assert "Cors" not in template.body["Resources"]["Api"]["Properties"], "preflights are the code's (api.CORS)"


def test_the_template_carries_the_version_of_the_code() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()

    assert load()["Mappings"]["Release"]["Current"]["Version"] == imagejobs.__version__
    assert re.search(r'^version = "([^"]+)"$', pyproject, re.M).group(1) == imagejobs.__version__  # type: ignore[union-attr]


def test_every_answer_api_gateway_makes_itself_carries_the_version_and_cors(template: Template) -> None:
    configured = template.resolve(template.body["Resources"]["Api"]["Properties"]["GatewayResponses"])

    assert {
        "DEFAULT_4XX",
        "DEFAULT_5XX",
        "MISSING_AUTHENTICATION_TOKEN",
        "UNAUTHORIZED",
        "THROTTLED",
        "QUOTA_EXCEEDED",
    } == set(configured)
    for kind, response in configured.items():
        headers = response["ResponseParameters"]["Headers"]
        assert headers["X-Imagejobs-Version"] == f"'{imagejobs.__version__}'", kind
        assert headers["Access-Control-Allow-Origin"] == "'*'", kind
        assert set(headers["Access-Control-Expose-Headers"].strip("'").split(",")) == set(api.CORS.expose_headers), kind


# ---- layout -----------------------------------------------------------------------------------


def test_template_sections_follow_the_house_order() -> None:
    sections = list(load())
    order = [s for s in sections if s in ("Parameters", "Globals", "Resources", "Outputs")]
    assert order == ["Parameters", "Globals", "Resources", "Outputs"]


def test_resources_are_grouped_storage_queues_bus_layers_functions_rules_alarms(template: Template) -> None:
    group = {
        "AWS::S3::Bucket": 0,
        "AWS::S3::BucketPolicy": 0,
        "AWS::DynamoDB::Table": 0,
        "AWS::CloudFront::OriginAccessControl": 0,  # the CDN in front of the bucket (EnableCdn), beside it
        "AWS::CloudFront::CachePolicy": 0,
        "AWS::CloudFront::Distribution": 0,
        "AWS::SecretsManager::Secret": 0,  # the link secret
        "AWS::SQS::Queue": 1,
        "AWS::SQS::QueuePolicy": 1,
        "AWS::Events::EventBus": 2,
        "AWS::Serverless::LayerVersion": 3,
        "AWS::Logs::LogGroup": 4,  # the functions' and the API's logs, and the API's logging role
        "AWS::IAM::Role": 4,
        "AWS::ApiGateway::Account": 4,
        "AWS::Serverless::Api": 4,
        "AWS::ApiGateway::UsagePlan": 4,  # the Api's, beside it
        "AWS::ApiGateway::ApiKey": 4,
        "AWS::ApiGateway::UsagePlanKey": 4,
        "AWS::Serverless::Function": 4,
        "AWS::Events::Rule": 5,
        "AWS::SNS::Topic": 6,
        "AWS::SNS::Subscription": 6,
        "AWS::CloudWatch::Alarm": 6,
        "AWS::CloudWatch::Dashboard": 6,
    }
    types = [resource["Type"] for resource in template.body["Resources"].values()]
    assert set(types) <= set(group), f"place {set(types) - set(group)} in the house order"
    groups = [group[type_] for type_ in types]
    assert groups == sorted(groups), list(zip(template.body["Resources"], groups, strict=True))


def test_outputs_name_the_api_url_bucket_and_event_bus(template: Template) -> None:
    assert {"ApiUrl", "BucketName", "EventBusName"} <= set(template.body["Outputs"])


def test_cfn_lint_passes() -> None:
    cfn_lint = ROOT / ".venv" / "bin" / "cfn-lint"
    if not cfn_lint.exists():
        found = shutil.which("cfn-lint")
        if found is None:
            pytest.skip("cfn-lint is not installed")
        cfn_lint = Path(found)
    result = subprocess.run(
        [str(cfn_lint), str(TEMPLATE)], check=False, cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr


# ---- stable links and the CDN -----------------------------------------------------------------

# The functions that answer or publish job documents with outputs, and so sign links, and the one
# that checks them: no other function may read the link secret.
SIGNING = {"GetJobFunction", "ListJobsFunction", "RetryJobFunction", "ProcessFunction", "JobsDeadLetterFunction"}
LINK_SECRET_READERS = SIGNING | {"DeliverCallbackFunction", "OutputLinkFunction"}
# The ones that make documents outside a request (events, callbacks) know the API's URL from their
# environment; API functions take it from the request (they cannot name the Api: it names them).
API_URL_FROM_ENVIRONMENT = {"ProcessFunction", "JobsDeadLetterFunction", "DeliverCallbackFunction"}


def test_the_link_secret_is_generated_at_deploy_and_read_only_by_the_functions_that_sign_or_check_links(
    template: Template,
) -> None:
    secret = template.body["Resources"]["LinkSecret"]
    assert secret["Type"] == "AWS::SecretsManager::Secret"
    assert "SecretString" not in secret["Properties"]
    assert int(secret["Properties"]["GenerateSecretString"]["PasswordLength"]) >= 32
    assert template.body["Globals"]["Function"]["Environment"]["Variables"]["LINK_SECRET_ARN"] == {"Ref": "LinkSecret"}
    reads = {"AWSSecretsManagerGetSecretValuePolicy": {"SecretArn": {"Ref": "LinkSecret"}}}
    readers = {lid for lid, properties in functions(template).items() if reads in properties.get("Policies", [])}
    assert readers == LINK_SECRET_READERS


def test_functions_that_publish_documents_know_the_api_url_and_api_functions_do_not(template: Template) -> None:
    api_url = {"Fn::Sub": "https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/v1"}
    assert template.body["Outputs"]["ApiUrl"]["Value"] == api_url
    for lid, properties in functions(template).items():
        variables = properties.get("Environment", {}).get("Variables", {})
        if lid in API_URL_FROM_ENVIRONMENT:
            assert variables.get("API_URL") == api_url, lid
            assert not events(properties, "Api"), f"{lid} is the Api's: naming the Api would be a cycle"
        else:
            assert "API_URL" not in variables, lid


def test_the_link_route_is_public_and_throttled_on_its_own(template: Template) -> None:
    (route,) = events(template.function_properties("OutputLinkFunction"), "Api")
    assert (route["Path"], route["Method"]) == ("/o/{token}", "get")
    assert route["Auth"] == {"Authorizer": "NONE", "ApiKeyRequired": False}
    (setting,) = template.body["Resources"]["Api"]["Properties"]["MethodSettings"]
    assert (setting["ResourcePath"], setting["HttpMethod"]) == ("/~1o~1{token}", "GET")  # API Gateway's escaping
    assert setting["ThrottlingRateLimit"] == {"Ref": "LinkRateLimit"}
    assert setting["ThrottlingBurstLimit"] == {"Ref": "LinkBurstLimit"}


CDN_RESOURCES = {"OutputsOriginAccessControl", "OutputsCachePolicy", "OutputsDistribution"}


def _cdn_statement(template: Template) -> dict[str, Any]:
    statements = template.body["Resources"]["BucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    [(condition, statement, otherwise)] = [s["Fn::If"] for s in statements if "Fn::If" in s]
    assert (condition, otherwise) == ("CdnEnabled", {"Ref": "AWS::NoValue"})
    return dict(statement)


def test_without_enable_cdn_there_is_no_distribution_and_no_cdn_url() -> None:
    template = Template.read("no-cdn")

    assert template.body["Parameters"]["EnableCdn"]["Default"] == "false"
    assert not template.resources("AWS::CloudFront::Distribution")
    assert not {lid for lid, r in template.body["Resources"].items() if r.get("Condition") == "CdnEnabled"} - (
        CDN_RESOURCES
    )
    assert template.resolve(template.body["Globals"]["Function"]["Environment"]["Variables"]["CDN_URL"]) == ""
    statements = template.body["Resources"]["BucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert template.resolve([s for s in statements if "Fn::If" in s]) == []  # no grant to CloudFront


def test_enable_cdn_puts_cloudfront_with_origin_access_control_in_front_of_the_outputs_only() -> None:
    template = Template.read("cdn", {"EnableCdn": "true"})
    resources = template.body["Resources"]

    # GIVEN EnableCdn=true: a distribution, its OAC and its cache policy exist, and only with it
    assert {lid for lid, r in resources.items() if r.get("Condition") == "CdnEnabled"} == CDN_RESOURCES
    ((lid, distribution),) = template.resources("AWS::CloudFront::Distribution").items()
    config = distribution["Properties"]["DistributionConfig"]
    # THEN its one origin is the bucket's outputs prefix, read through the Origin Access Control
    (origin,) = config["Origins"]
    assert origin["DomainName"] == {"Fn::GetAtt": ["Bucket", "RegionalDomainName"]}
    assert origin["OriginPath"] == "/" + storage.OUTPUT_PREFIX.rstrip("/")
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["OutputsOriginAccessControl", "Id"]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}  # no legacy OAI
    oac = resources["OutputsOriginAccessControl"]["Properties"]["OriginAccessControlConfig"]
    assert (oac["OriginAccessControlOriginType"], oac["SigningBehavior"], oac["SigningProtocol"]) == (
        "s3",
        "always",
        "sigv4",
    )
    behavior = config["DefaultCacheBehavior"]
    assert behavior["ViewerProtocolPolicy"] in ("redirect-to-https", "https-only")
    assert behavior["AllowedMethods"] == ["GET", "HEAD"]
    assert behavior["CachePolicyId"] == {"Ref": "OutputsCachePolicy"}
    # AND an edge keeps an output at most CdnMaxTtl (how long a deleted job's outputs may linger there)
    cache = resources["OutputsCachePolicy"]["Properties"]["CachePolicyConfig"]
    assert cache["MaxTTL"] == {"Ref": "CdnMaxTtl"}
    assert int(template.resolve(cache["MaxTTL"])) <= 86400
    # AND the bucket lets that distribution alone read objects under outputs/, nothing else
    statement = _cdn_statement(template)
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert statement["Action"] == "s3:GetObject"
    assert statement["Resource"] == {"Fn::Sub": "${Bucket.Arn}/" + storage.OUTPUT_PREFIX + "*"}
    source = statement["Condition"]["StringEquals"]["AWS:SourceArn"]["Fn::Sub"]
    assert source.endswith(":distribution/${" + lid + "}")
    # AND the functions and the stack's outputs name its address
    cdn_url = {"Fn::Sub": "https://${" + lid + ".DomainName}"}
    assert template.body["Globals"]["Function"]["Environment"]["Variables"]["CDN_URL"] == {
        "Fn::If": ["CdnEnabled", cdn_url, ""]
    }
    assert template.body["Outputs"]["CdnUrl"] == {
        "Condition": "CdnEnabled",
        "Description": template.body["Outputs"]["CdnUrl"]["Description"],
        "Value": cdn_url,
    }


def test_the_local_stack_serves_the_api_and_cdn_addresses_the_template_gives() -> None:
    template = Template.read("local", {"EnableCdn": "true"})
    template.local_urls.update(Api="http://127.0.0.1:3000", OutputsDistribution="http://127.0.0.1:3000/cdn")

    assert template.resolve(template.body["Outputs"]["ApiUrl"]["Value"]) == "http://127.0.0.1:3000/v1"
    assert template.resolve(template.body["Outputs"]["CdnUrl"]["Value"]) == "http://127.0.0.1:3000/cdn"


def test_a_failed_archives_parts_are_dropped_by_the_buckets_lifecycle(template: Template) -> None:
    # The archive builder leaves a failed multipart upload incomplete (s3:AbortMultipartUpload is in
    # no policy template): the bucket's rule aborts it, and frees its parts, a day on.
    rules = template.body["Resources"]["Bucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    aborting = [rule for rule in rules if "AbortIncompleteMultipartUpload" in rule]
    assert [(rule["Status"], rule.get("Prefix"), rule.get("Filter")) for rule in aborting] == [("Enabled", None, None)]
    assert aborting[0]["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 1
