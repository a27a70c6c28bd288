"""HTTP concerns shared by the API handlers, once: the resolver every function serves its routes
with (validation, CORS and browsers' preflights, the version header), errors as SPEC §2 bodies,
documented responses and security for the OpenAPI document, and the caller's tenant."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Depends, Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.depends import DependencyResolutionError
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError as PowertoolsValidationError
from aws_lambda_powertools.event_handler.openapi.params import Header, Query
from aws_lambda_powertools.event_handler.request import Request

from imagejobs import __version__, jsonbody, links, snapstart
from imagejobs.caller import Caller
from imagejobs.errors import AuthenticationError, ImageJobsError
from imagejobs.spec import validation
from imagejobs.spec.documents import ErrorBody

VERSION_HEADER = "X-Imagejobs-Version"
CORS = CORSConfig(
    allow_origin="*",
    allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-API-Key"],
    expose_headers=[VERSION_HEADER, "Retry-After"],
    max_age=3600,
)
# What a preflight allows, on every path (API Gateway refuses a method a path does not have).
ALLOWED_METHODS = {"DELETE", "GET", "OPTIONS", "POST"}
# At most this many details in a 422, each path at most this long.
MAX_DETAILS, MAX_PATH = 50, 200
# The header of POST /v1/jobs and /v1/batches.
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", max_length=255, description="the same key and body within a day: the same answer"),
]
# `?wait=N` on reads of things that end (a job, a batch): answer when it ends, or after N seconds.
Wait = Annotated[
    int,
    Query(
        ge=0,
        le=20,
        description="Seconds to wait for it to end before answering (at most 20): the answer comes as soon as it "
        "has ended, or when they have passed, whichever is first.",
    ),
]
# Every route but the public ones: the key in X-API-Key, or as a bearer token.
KEYED: list[dict[str, list[str]]] = [{"apiKey": []}, {"bearer": []}]
_DESCRIPTIONS = {
    400: "The body is not JSON, or a cursor is not one this API gave",
    401: "No valid API key",
    404: "Not found (another tenant's resource is not found either)",
    409: "In a state that forbids it, or an Idempotency-Key reused with another body",
    413: "Over a size limit",
    415: "Not a media type this API reads: bodies are JSON, uploads are images of a supported type",
    422: "A field is not valid: `details` names each by its path",
    429: "Over the request rate or quota: see Retry-After",
}


def responses(ok: int, description: str, *errors: int) -> dict[int, Any]:
    """OpenAPI responses: the route's own (its return type's schema), and these error statuses (and 422,
    which any request can earn), each with the SPEC §2 error body."""
    bodiless = ok == 204 or 300 <= ok < 400
    documented: dict[int, Any] = {ok: {"description": description, **({"content": {}} if bodiless else {})}}
    for status in sorted({*errors, 422}):
        documented[status] = {
            "description": _DESCRIPTIONS[status],
            "content": {"application/json": {"model": ErrorBody}},
        }
    return documented


def error_response(status: int, code: str, message: str, details: Sequence[dict[str, Any]] = ()) -> Response:
    body = {"error": {"code": code, "message": message, "details": list(details)}}
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps(body),
        headers={VERSION_HEADER: __version__},
    )


def _version_header(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response:
    response = next_middleware(app)
    response.headers[VERSION_HEADER] = __version__
    return response


def preflight() -> dict[str, Any]:
    """The answer to a browser's CORS preflight (OPTIONS) on any path: what CORS allows, for an hour."""
    headers = {
        **CORS.to_dict("*"),
        "Access-Control-Allow-Methods": CORSConfig.build_allow_methods(ALLOWED_METHODS),
        VERSION_HEADER: __version__,
    }
    return {"statusCode": 204, "headers": headers, "body": "", "isBase64Encoded": False}


class _JsonResolver(APIGatewayRestResolver):
    """Answers preflights itself, whatever the path (the template routes every path's OPTIONS to one
    function). Reads JSON bodies only: another content type is a 415 before Powertools tries to parse
    it (it would take forms apart itself, and fail on a multipart type without a boundary). A JSON
    body is read by `jsonbody.read`, within its bounds of size and depth."""

    def resolve(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        if event.get("httpMethod") == "OPTIONS":
            return preflight()
        headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
        content_type = headers.get("content-type", "").lower()
        if event.get("body") and content_type and not content_type.startswith("application/json"):
            body = {
                "error": {"code": "unsupported_media_type", "message": "send JSON (application/json)", "details": []}
            }
            return {
                "statusCode": 415,
                "headers": {
                    "Content-Type": "application/json",
                    "Access-Control-Allow-Origin": CORS.allowed_origin,
                    VERSION_HEADER: __version__,
                },
                "body": json.dumps(body),
                "isBase64Encoded": False,
            }
        with links.serving(served_at(event)):
            return super().resolve(event, context)


def served_at(event: Mapping[str, Any]) -> str | None:
    """The API's base URL as this request reached it (`https://<host>/v1`, or a custom domain and its
    base path), for the links the answer carries."""
    context = event.get("requestContext") or {}
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    host = context.get("domainName") or headers.get("host")
    if not host:
        return None
    full, path = str(context.get("path") or ""), str(event.get("path") or "")
    base_path = full.removesuffix(path) if path and full.endswith(path) else f"/{context.get('stage', '')}"
    return f"{headers.get('x-forwarded-proto', 'https')}://{host}{base_path.rstrip('/')}"


def resolver(*routers: Router) -> APIGatewayRestResolver:
    """The resolver a function serves its routers with (and its SnapStart hooks, registered)."""
    snapstart.register()
    app = _JsonResolver(enable_validation=True, cors=CORS, json_body_deserializer=jsonbody.read)
    for router in routers:
        app.include_router(router)
    app.use([_version_header])

    @app.exception_handler(ImageJobsError)
    def _domain_error(error: ImageJobsError) -> Response:
        return error_response(error.status, error.code, error.message, error.details)

    @app.exception_handler(DependencyResolutionError)
    def _unresolved(error: DependencyResolutionError) -> Response:
        if isinstance(error.__cause__, ImageJobsError):  # a route's caller refused (Powertools wraps it)
            return _domain_error(error.__cause__)
        raise error

    @app.exception_handler(PowertoolsValidationError)
    def _invalid_request(error: PowertoolsValidationError) -> Response:
        # A body can earn an error per unknown key, each naming it: the first few, shortened, say enough.
        found = validation.details(list(error.errors())[:MAX_DETAILS])
        details = [{**detail, "path": detail["path"][:MAX_PATH]} for detail in found]
        return error_response(422, "invalid_request", validation.summary(details), details)

    @app.not_found
    def _no_route(_: Exception) -> Response:
        return error_response(404, "not_found", "no such route")

    return app


def _caller(request: Request) -> Caller:
    """Who the request is from, as the authorizer found: fails closed on a route it did not guard."""
    context = (request.resolved_event.raw_event.get("requestContext") or {}).get("authorizer") or {}
    if not context.get("tenant_id") or context.get("tier") not in ("keyed", "anonymous"):
        raise AuthenticationError("this route needs an API key")
    return Caller(context["tenant_id"], context["tier"], key_id=context.get("key_id", ""))


def _keyed_caller(request: Request) -> Caller:
    caller = _caller(request)
    if caller.tier != "keyed":
        raise AuthenticationError("this needs an API key (X-API-Key or Authorization: Bearer)")
    return caller


# A route's access is in its signature: a route that serves a tenant takes one of these.
AnyCaller = Annotated[Caller, Depends(_caller)]  # a key's tenant, or anonymous callers where allowed
KeyedCaller = Annotated[Caller, Depends(_keyed_caller)]  # a key's tenant only
