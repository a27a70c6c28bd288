"""A cold start imports what the function needs at init, and nothing that its first request can import
when it needs it (bench/coldstart.py measures the difference): no boto3 or botocore's clients, no X-Ray
SDK, no Powertools idempotency utility; and no pydantic model built (each is built on first use, see
imagejobs.spec.model), but the settings every request reads. Each handler is imported in a fresh
interpreter, with the variables that turn tracing on as in Lambda; then the first AWS client patches
botocore for X-Ray."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from devstack.template import ROOT, Template

TEMPLATE = Template.read("cold-imports")
FUNCTIONS = sorted(TEMPLATE.resources("AWS::Serverless::Function"))
# Imported by the first request that needs them, never at init.
DEFERRED = (
    "boto3",
    "botocore.client",
    "botocore.config",
    "aws_xray_sdk.core",
    "aws_lambda_powertools.utilities.idempotency",
    "sqlite3",
    "aws_lambda_powertools.utilities.batch",  # imagejobs.batch_response instead
    "aws_lambda_powertools.event_handler.openapi.models",  # Meta reads Swagger UI's files without it
)
# Imported by the API functions (imagejobs.api) only.
WITH_THE_API = ("imagejobs.api", "asyncio", "aws_lambda_powertools.utilities.data_classes")
# The job-request model graph and the usage plans' service: the authorizer reads API keys, nothing else.
NOT_FOR_THE_AUTHORIZER = (
    "imagejobs.spec.documents",
    "imagejobs.spec.requests",
    "imagejobs.spec.outputs",
    "imagejobs.spec.operations",
    "imagejobs.spec.presets",
    "imagejobs.services.usage",
)
# Built at import: what every invocation of every function reads first.
BUILT_AT_IMPORT = ["imagejobs.settings.Settings", "imagejobs.settings.TierLimits"]
# The imagejobs models and module-level TypeAdapters whose validator is built, once `app` is imported.
BUILT = """
import app, pydantic
built = set()
for module in [m for name, m in sys.modules.items() if name.startswith("imagejobs")]:
    for name, value in vars(module).items():
        if isinstance(value, type) and issubclass(value, pydantic.BaseModel) and value.__pydantic_complete__:
            built.add(f"{value.__module__}.{value.__qualname__}")
        elif isinstance(value, pydantic.TypeAdapter) and value.pydantic_complete:
            built.add(f"{module.__name__}.{name}")
print(json.dumps(sorted(built)))
"""


def lambda_environment(logical_id: str) -> dict[str, str]:
    code = ROOT / TEMPLATE.function_properties(logical_id)["CodeUri"]
    return {
        **os.environ,
        "LAMBDA_TASK_ROOT": str(code),  # Powertools' Tracer is on where this is set (and SAM's local variables are not)
        "AWS_LAMBDA_FUNCTION_NAME": logical_id,
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "POWERTOOLS_TRACE_DISABLED": "false",
        "POWERTOOLS_METRICS_NAMESPACE": "imagejobs",
    }


def run(logical_id: str, statements: str) -> object:
    code = ROOT / TEMPLATE.function_properties(logical_id)["CodeUri"]
    path = [str(code), str(ROOT / "layers" / "common")]
    program = f"import json, sys; sys.path[:0] = {path!r}; {statements}"
    done = subprocess.run(
        [sys.executable, "-c", program], env=lambda_environment(logical_id), capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_a_handler_imports_no_aws_sdk_and_no_xray_sdk_at_init(logical_id: str) -> None:
    imported = run(logical_id, f"import app; print(json.dumps([m for m in {DEFERRED!r} if m in sys.modules]))")

    assert imported == []


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_a_handler_builds_no_model_at_init_but_the_settings(logical_id: str) -> None:
    assert run(logical_id, BUILT) == BUILT_AT_IMPORT


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_only_the_api_functions_import_powertools_event_classes_and_asyncio(logical_id: str) -> None:
    # Powertools' event handler imports them (its package imports every resolver, AppSync's with
    # asyncio, and every event data class). The other functions read their events themselves
    # (imagejobs.batch_response, the authorizer): any one of those classes imports all of them.
    imported = run(logical_id, f"import app; print(json.dumps({{m: m in sys.modules for m in {WITH_THE_API!r}}}))")

    assert imported == dict.fromkeys(WITH_THE_API, imported["imagejobs.api"])


def test_the_authorizer_imports_no_job_model_and_no_usage_plan_code() -> None:
    # It runs before every keyed request: its cold start is one the caller waits for (issue 11).
    imported = run(
        "AuthorizerFunction",
        f"import app; print(json.dumps([m for m in {NOT_FOR_THE_AUTHORIZER!r} if m in sys.modules]))",
    )

    assert imported == []


def test_processing_loads_the_http_client_only_for_a_url_source() -> None:
    # Its AWS calls load http.client with botocore, on the first request; a URL source loads imagejobs.net.
    imported = run("ProcessFunction", "import app; print(json.dumps(['imagejobs.net' in sys.modules]))")

    assert imported == [False]


def test_the_first_aws_client_patches_botocore_and_http_for_xray() -> None:
    patched = run(
        "GetJobFunction",
        "import app; from imagejobs.store import aws; aws.client('s3'); aws.table('jobs'); "
        "from aws_xray_sdk.core import patcher; print(json.dumps(sorted(patcher._PATCHED_MODULES)))",
    )

    assert patched == ["botocore", "httplib"]
