"""Writes functions/meta/openapi.json: the OpenAPI 3.1 document of every route in template.yaml,
generated from the handlers' routers and the pydantic models (`make openapi`; `--check` fails when
the committed document differs)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "common")]

from aws_lambda_powertools.event_handler import APIGatewayRestResolver  # noqa: E402
from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, HTTPBearer, Server  # noqa: E402

from devstack.functions import functions  # noqa: E402
from devstack.template import Template  # noqa: E402
from imagejobs import __version__  # noqa: E402

TARGET = ROOT / "functions" / "meta" / "openapi.json"
DESCRIPTION = (
    "imagejobs: upload images straight to S3 with presigned forms, describe outputs as JSON pipelines, "
    "and get results by polling, by a signed callback (Standard Webhooks) or from EventBridge. Every "
    'error is `{"error": {"code", "message", "details": [{"path", "message"}]}}`.'
)


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
    generated = document()
    if "--check" in sys.argv:
        if TARGET.read_text() != generated:
            print(f"{TARGET.relative_to(ROOT)} is out of date: run `make openapi`", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(generated)
    print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
