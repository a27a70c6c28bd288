"""Invariants of template.yaml that cfn-lint cannot know: they come from how the code uses it."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from devstack.template import ROOT, TEMPLATE, Template, load
from imagejobs.store import storage

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
    # The jobs DLQ is consumed too: its function fails the jobs whose every delivery was stopped.
    assert set(feeding) == {"JobsQueue", "CallbacksQueue", "JobsDeadLetterQueue"}
    for queue in ("JobsQueue", "CallbacksQueue"):
        redrive = resources[queue]["Properties"].get("RedrivePolicy")
        assert redrive is not None, f"{queue} has no RedrivePolicy"
        dlq = get_att_target(redrive["deadLetterTargetArn"])
        assert resources[dlq]["Type"] == "AWS::SQS::Queue"
        assert dlq != queue
        assert "RedrivePolicy" not in resources[dlq]["Properties"]  # what fails there stays there, for operators
        assert int(template.resolve(redrive["maxReceiveCount"])) >= 1
    assert feeding["JobsDeadLetterQueue"] == "JobsDeadLetterFunction"


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
            api_events += 1
            path = re.sub(r"\{(\w+)\}", r"<\1>", event["Path"])  # API Gateway {id} -> Powertools <id>
            routes = resolver_routes(handler_file(properties))
            assert (event["Method"].lower(), path) in routes, (
                f"{lid}: {event['Method']} {event['Path']} not in {routes}"
            )
            assert event["RestApiId"] == {"Ref": "Api"}
    assert api_events >= 3


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
        "AWS::CloudFront::OriginAccessControl": 0,  # the CDN in front of the bucket (EnableCdn), beside it
        "AWS::CloudFront::CachePolicy": 0,
        "AWS::CloudFront::Distribution": 0,
        "AWS::SecretsManager::Secret": 0,  # the link secret
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
