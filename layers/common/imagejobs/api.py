"""HTTP concerns shared by the API handlers: errors to SPEC §2 bodies, once; the caller's tenant."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError as PowertoolsValidationError

from imagejobs import auth, validation
from imagejobs.errors import ImageJobsError


def error_response(status: int, code: str, message: str, details: Sequence[dict[str, Any]] = ()) -> Response:
    body = {"error": {"code": code, "message": message, "details": list(details)}}
    return Response(status_code=status, content_type="application/json", body=json.dumps(body))


def install_error_handlers(app: APIGatewayRestResolver) -> None:
    @app.exception_handler(ImageJobsError)
    def _domain_error(error: ImageJobsError) -> Response:
        return error_response(error.status, error.code, error.message, error.details)

    @app.exception_handler(PowertoolsValidationError)
    def _invalid_request(error: PowertoolsValidationError) -> Response:
        errors = list(error.errors())
        if any(e.get("type") == "json_invalid" for e in errors):
            return error_response(400, "malformed_request", "the body is not valid JSON")
        found = validation.details(errors)
        return error_response(422, "invalid_request", validation.summary(found), found)

    @app.not_found
    def _no_route(_: Exception) -> Response:
        return error_response(404, "not_found", "no such route")


def tenant_id(app: APIGatewayRestResolver) -> str:
    headers = app.current_event.headers  # case-insensitive
    return auth.authenticate(headers.get("x-api-key"), headers.get("authorization"))
