"""Writes functions/meta/openapi.json, the OpenAPI 3.1 document of every route in template.yaml,
generated from the handlers' routers and the pydantic models, and functions/meta/events.schema.json,
the JSON Schema of the bus's event details and the callbacks' bodies (`make openapi`; `--check` fails
when a committed document differs)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "common")]

from aws_lambda_powertools.event_handler import APIGatewayRestResolver  # noqa: E402
from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, HTTPBearer, Server  # noqa: E402
from pydantic.json_schema import models_json_schema  # noqa: E402

from devstack.functions import functions  # noqa: E402
from devstack.template import Template  # noqa: E402
from imagejobs import __version__  # noqa: E402
from imagejobs.spec import events  # noqa: E402

OPENAPI = ROOT / "functions" / "meta" / "openapi.json"
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
    return json.dumps(json.loads(schema), indent=2, sort_keys=True) + "\n"


def main() -> int:
    stale = 0
    for target, generated in ((OPENAPI, document()), (EVENTS, events_document())):
        if "--check" not in sys.argv:
            target.write_text(generated)
            print(f"wrote {target.relative_to(ROOT)}")
        elif target.read_text() != generated:
            print(f"{target.relative_to(ROOT)} is out of date: run `make openapi`", file=sys.stderr)
            stale += 1
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
