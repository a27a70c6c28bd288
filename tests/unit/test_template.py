"""Invariants of template.yaml that cfn-lint cannot know: they come from how the code uses it."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

import imagejobs
from devstack.template import ROOT, TEMPLATE, Template, load
from imagejobs import api
from imagejobs.store import storage

FUNCTION = "AWS::Serverless::Function"
CODECS = {"pyvips", "PIL", "pillow_heif", "pymupdf", "fitz"}  # the CodecsLayer's import names
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
    assert set(feeding) == {"JobsQueue", "CallbacksQueue"}
    for queue in feeding:
        redrive = resources[queue]["Properties"].get("RedrivePolicy")
        assert redrive is not None, f"{queue} has no RedrivePolicy"
        dlq = get_att_target(redrive["deadLetterTargetArn"])
        assert resources[dlq]["Type"] == "AWS::SQS::Queue"
        assert dlq != queue
        assert dlq not in feeding, f"{dlq} is a dead-letter queue but a function consumes it"
        assert "RedrivePolicy" not in resources[dlq]["Properties"]
        assert int(template.resolve(redrive["maxReceiveCount"])) >= 1


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


def test_every_function_has_sam_policy_templates_scoped_to_one_resource_and_no_statements(template: Template) -> None:
    for lid, properties in functions(template).items():
        policies = properties.get("Policies", [])
        if lid in NO_AWS:
            assert not policies, f"{lid} calls no AWS service"
            continue
        assert policies, f"{lid} has no Policies"
        for policy in policies:
            assert isinstance(policy, dict), f"{lid}: {policy!r} is not a SAM policy template"
            assert len(policy) == 1, f"{lid}: {policy!r}"
            [(name, scope)] = policy.items()
            assert name.endswith("Policy"), f"{lid}: {name} is not a SAM policy template"
            assert not _contains_key(policy, "Statement"), f"{lid}: hand-written statement in {name}"
            assert isinstance(scope, dict), f"{lid}: {name} is not scoped to a resource"
            assert len(scope) == 1, f"{lid}: {name} is not scoped to one resource"


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
        if s["Effect"] == "Deny"
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


def test_resources_are_grouped_storage_queues_bus_layers_functions_rules(template: Template) -> None:
    group = {
        "AWS::S3::Bucket": 0,
        "AWS::S3::BucketPolicy": 0,
        "AWS::DynamoDB::Table": 0,
        "AWS::SQS::Queue": 1,
        "AWS::SQS::QueuePolicy": 1,
        "AWS::Events::EventBus": 2,
        "AWS::Serverless::LayerVersion": 3,
        "AWS::Serverless::Api": 4,
        "AWS::ApiGateway::UsagePlan": 4,  # the Api's, beside it
        "AWS::ApiGateway::ApiKey": 4,
        "AWS::ApiGateway::UsagePlanKey": 4,
        "AWS::Serverless::Function": 4,
        "AWS::Events::Rule": 5,
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
