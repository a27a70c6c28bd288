"""GET /v1/health, /v1/openapi.json, the docs and playground pages and their assets: public, about
the API itself. Also answers every path's CORS preflight (imagejobs.api does, for any path).

openapi.json beside this file is generated from every function's routes and models by
`make openapi` (scripts/openapi.py); a test fails when it drifts from the code. The pages and
their scripts are in web/; Swagger UI's script and styles are the ones Powertools ships (Apache-2.0).
"""

from importlib import resources
from pathlib import Path

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.utilities.typing import LambdaContext

from imagejobs import api, web
from imagejobs.errors import NotFoundError
from imagejobs.observability import logger, tracer
from imagejobs.services import health

OPENAPI = Path(__file__).with_name("openapi.json")
WEB = Path(__file__).with_name("web")
# Swagger UI's files, read from their folder: importing the folder's package would import Powertools'
# OpenAPI models, 45 ms of a cold start.
SWAGGER_UI = resources.files("aws_lambda_powertools.event_handler.openapi").joinpath("swagger_ui")
SITE = web.Site(
    pages={"docs": (WEB / "docs.html").read_text, "playground": (WEB / "playground.html").read_text},
    assets={
        "docs.js": (WEB / "docs.js").read_text,
        "playground.js": (WEB / "playground.js").read_text,
        "playground.css": (WEB / "playground.css").read_text,
        "swagger-ui.js": SWAGGER_UI.joinpath("swagger-ui-bundle.min.js").read_text,
        "swagger-ui.css": SWAGGER_UI.joinpath("swagger-ui.min.css").read_text,
    },
)

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
    return _page("docs")


@router.get("/playground", summary="A page to try the API in a browser", include_in_schema=False)
def get_playground() -> Response[str]:
    return _page("playground")


@router.get("/static/<name>", summary="The pages' scripts and styles", include_in_schema=False)
def get_static(name: str) -> Response[str]:
    event = router.current_event
    answer = web.asset(SITE, name, event.get_query_string_value("v"), event.headers.get("If-None-Match"))
    if answer is None:
        raise NotFoundError(f"no such file: {name}")
    return Response(status_code=answer.status, headers=answer.headers, body=answer.body)


def _page(name: str) -> Response[str]:
    event = router.current_event
    answer = web.page(SITE, name, event.path, event.headers.get("If-None-Match"))
    return Response(status_code=answer.status, headers=answer.headers, body=answer.body)


app = api.resolver(router)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
