"""HTTP concerns shared by the API handlers: errors to SPEC §2 bodies, once; the caller's tenant."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError as PowertoolsValidationError

from imagejobs import auth
from imagejobs.errors import ImageJobsError
from imagejobs.pipeline import OPERATION_TYPES


def error_response(status: int, code: str, message: str, details: Sequence[dict[str, Any]] = ()) -> Response:
    body = {"error": {"code": code, "message": message, "details": list(details)}}
    return Response(status_code=status, content_type="application/json", body=json.dumps(body))


def _path(loc: Sequence[str | int]) -> str:
    """("body", "outputs", 0, "operations", 2, "resize", "width") -> "outputs[0].operations[2].width"."""
    path = ""
    parts = list(loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc)
    for index, part in enumerate(parts):
        if isinstance(part, int):
            path += f"[{part}]"
        elif index > 0 and isinstance(parts[index - 1], int) and part in OPERATION_TYPES:
            continue  # the discriminator's tag, not a field
        else:
            path += f".{part}" if path else str(part)
    return path


def _message(error: dict[str, Any]) -> str:
    message = str(error.get("msg", "is not valid"))
    return message.removeprefix("Value error, ")


def install_error_handlers(app: APIGatewayRestResolver) -> None:
    @app.exception_handler(ImageJobsError)
    def _domain_error(error: ImageJobsError) -> Response:
        return error_response(error.status, error.code, error.message, error.details)

    @app.exception_handler(PowertoolsValidationError)
    def _invalid_request(error: PowertoolsValidationError) -> Response:
        errors = list(error.errors())
        if any(e.get("type") == "json_invalid" for e in errors):
            return error_response(400, "malformed_request", "the body is not valid JSON")
        details = [{"path": _path(e.get("loc", ())), "message": _message(e)} for e in errors]
        first = details[0] if details else {"path": "", "message": "is not valid"}
        summary = f"{first['path'] or 'body'}: {first['message']}"
        return error_response(422, "invalid_request", summary, details)

    @app.not_found
    def _no_route(_: Exception) -> Response:
        return error_response(404, "not_found", "no such route")


def tenant_id(app: APIGatewayRestResolver) -> str:
    headers = app.current_event.headers  # case-insensitive
    return auth.authenticate(headers.get("x-api-key"), headers.get("authorization"))
