"""GET /v1/health, /v1/openapi.json and /v1/docs: public, about the API itself.

openapi.json beside this file is generated from every function's routes and models by
`make openapi` (scripts/openapi.py); a test fails when it drifts from the code.
"""

from pathlib import Path

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.utilities.typing import LambdaContext

from imagejobs import api
from imagejobs.observability import logger, tracer
from imagejobs.services import health

OPENAPI = Path(__file__).with_name("openapi.json")
DOCS = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>imagejobs API</title>
<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css"></head>
<body><div id="docs"></div>
<script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({url: "openapi.json", dom_id: "#docs"});</script>
</body></html>
"""

router = Router()


@router.get(
    "/health",
    operation_id="getHealth",
    tags=["Meta"],
    summary="The version, and whether the table and bucket answer (503 when not)",
)
def get_health() -> Response[health.Health]:
    report = health.check()
    status = 200 if report.status == "ok" else 503
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=report)


@router.get("/openapi.json", summary="This API's OpenAPI 3.1 document", include_in_schema=False)
def get_openapi() -> Response[str]:
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=OPENAPI.read_text())


@router.get("/docs", summary="The OpenAPI document as an interactive page", include_in_schema=False)
def get_docs() -> Response[str]:
    return Response(status_code=200, content_type="text/html; charset=utf-8", body=DOCS)


app = api.resolver(router)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
