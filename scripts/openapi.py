"""Writes functions/meta/openapi.json, the OpenAPI 3.1 document of every route in template.yaml,
generated from the handlers' routers and the pydantic models; docs/api.md, that document as a page to
read (scripts/api_reference.py); and functions/meta/events.schema.json, the JSON Schema of the bus's
event details and the callbacks' bodies (`make openapi`; `--check` fails when a committed file differs)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "common")]

from api_reference import markdown  # noqa: E402 (beside this script)
from aws_lambda_powertools.event_handler import APIGatewayRestResolver  # noqa: E402
from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, HTTPBearer, Server  # noqa: E402
from pydantic.json_schema import models_json_schema  # noqa: E402

from devstack.functions import functions  # noqa: E402
from devstack.template import Template  # noqa: E402
from imagejobs import __version__  # noqa: E402
from imagejobs.spec import events  # noqa: E402

OPENAPI = ROOT / "functions" / "meta" / "openapi.json"
REFERENCE = ROOT / "docs" / "api.md"
EVENTS = ROOT / "functions" / "meta" / "events.schema.json"
DESCRIPTION = (
    "imagejobs: upload images straight to S3 with presigned forms, describe outputs as JSON pipelines, "
    "and get results by polling, by a signed callback (Standard Webhooks) or from EventBridge. Every "
    'error is `{"error": {"code", "message", "details": [{"path", "message"}]}}`.'
)


def events_document() -> str:
    """The events' details by detail-type, and the callbacks' bodies, as one JSON Schema document."""
    _, schema = models_json_schema(
        [
            (model, "serialization")
            for model in (events.JobEvent, events.BatchEvent, events.JobCallback, events.BatchCallback)
        ],
        title=f"imagejobs {__version__} events (source `{events.SOURCE}`) and callbacks",
    )
    schema["description"] = (events.__doc__ or "").strip()
    schema["x-detail-types"] = {
        events.JOB_SUCCEEDED: "#/$defs/JobEvent",
        events.JOB_FAILED: "#/$defs/JobEvent",
        events.BATCH_COMPLETED: "#/$defs/BatchEvent",
    }
    schema["x-callbacks"] = {
        "job.succeeded": "#/$defs/JobCallback",
        "job.failed": "#/$defs/JobCallback",
        "batch.completed": "#/$defs/BatchCallback",
    }
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def document() -> str:
    template = Template.read("openapi")
    found, routes, _, _ = functions(template)
    combined = APIGatewayRestResolver(enable_validation=True)
    for function in found:
        if any(route.function is function for route in routes):
            function.load()
            combined.include_router(function.module.router)  # type: ignore[union-attr]
    schema = combined.get_openapi_json_schema(
        title="imagejobs",
        version=__version__,
        description=DESCRIPTION,
        servers=[Server(url="/v1")],
        security_schemes={
            "apiKey": APIKey(name="X-API-Key", **{"in": APIKeyIn.header}),
            "bearer": HTTPBearer(description="Authorization: Bearer <API key>"),
        },
    )
    return json.dumps(polished(json.loads(schema)), indent=2, sort_keys=True) + "\n"


def polished(document: dict[str, Any]) -> dict[str, Any]:
    """The framework's document as an API's: every error in the API's own error body, a one-value
    `enum` where Powertools wrote `const` (which common client generators mishandle in unions), the
    headers every answer carries, and the callbacks as OpenAPI 3.1 `webhooks`."""
    for name in ("HTTPValidationError", "ResponseValidationError", "ValidationError"):
        document["components"]["schemas"].pop(name, None)
    document = _rewritten(document)
    schemas = document["components"]["schemas"]
    document["components"]["headers"] = {
        "Version": {"description": "The API's version", "schema": {"type": "string", "example": __version__}},
        "RetryAfter": {"description": "Seconds to wait before trying again", "schema": {"type": "integer"}},
    }
    for item in document["paths"].values():
        for operation in item.values():
            for status, response in operation["responses"].items():
                headers = {"X-Imagejobs-Version": {"$ref": "#/components/headers/Version"}}
                if status == "429":
                    headers["Retry-After"] = {"$ref": "#/components/headers/RetryAfter"}
                response["headers"] = headers
    _, definitions = models_json_schema(
        [(model, "serialization") for model in (events.JobCallback, events.BatchCallback)],
        ref_template="#/components/schemas/{model}",
    )
    for name, definition in _rewritten(definitions["$defs"]).items():
        schemas.setdefault(name, definition)
    document["webhooks"] = {
        "jobEnded": _webhook("job.succeeded or job.failed: a job with a `callback_url` has ended", "JobCallback"),
        "batchCompleted": _webhook(
            "batch.completed: every job of a batch with a `callback_url` has ended", "BatchCallback"
        ),
    }
    return document


def _webhook(summary: str, body: str) -> dict[str, Any]:
    """A callback as OpenAPI describes one: POSTed to the callback URL, signed per Standard Webhooks."""
    signed = {
        "webhook-id": "The message's id, the same on every retry of it: deduplicate on it",
        "webhook-timestamp": "Unix seconds when it was signed: refuse an old one",
        "webhook-signature": "`v1,` and the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}` with the tenant's "
        "`whsec_` secret",
    }
    return {
        "post": {
            "summary": summary,
            "operationId": body[0].lower() + body[1:],
            "tags": ["Callbacks"],
            "parameters": [
                {"name": name, "in": "header", "required": True, "description": text, "schema": {"type": "string"}}
                for name, text in signed.items()
            ],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{body}"}}},
            },
            "responses": {
                "2XX": {"description": "Delivered"},
                "410": {"description": "Gone: no more deliveries of this callback"},
                "default": {"description": "Retried later, with growing delays, for at least 24 hours"},
            },
        }
    }


def _rewritten(value: Any) -> Any:
    """`const` as a one-value `enum`, and the framework's validation error as the API's error body."""
    if isinstance(value, dict):
        if value.get("$ref") == "#/components/schemas/HTTPValidationError":
            return {"$ref": "#/components/schemas/ErrorBody"}
        if "const" in value:
            value = {**{k: v for k, v in value.items() if k != "const"}, "enum": [value["const"]]}
        return {key: _rewritten(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_rewritten(item) for item in value]
    return value


def main() -> int:
    stale = 0
    openapi = document()
    generated_files = ((OPENAPI, openapi), (REFERENCE, markdown(json.loads(openapi))), (EVENTS, events_document()))
    for target, generated in generated_files:
        if "--check" not in sys.argv:
            target.write_text(generated)
            print(f"wrote {target.relative_to(ROOT)}")
        elif target.read_text() != generated:
            print(f"{target.relative_to(ROOT)} is out of date: run `make openapi`", file=sys.stderr)
            stale += 1
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
