"""Idempotency-Key: a request repeated with the same key (and body) gets the first answer again.

Powertools' idempotency utility keeps the answers in their own table for a day. The key is scoped
by tenant, so two tenants' keys never meet; the body is validated, so a key reused with another
body is a 409 rather than a silent replay. The utility is imported by the first request with a key:
it imports boto3, which a cold start would otherwise pay for at init (bench/coldstart.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from imagejobs.errors import ConflictError
from imagejobs.ids import new_id
from imagejobs.settings import get_settings
from imagejobs.store import repository
from imagejobs.store.aws import client
from imagejobs.store.records import now

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig

KEEP_SECONDS = 86400
_invocation: dict[str, Any] = {}  # the Lambda context of the invocation under way


@cache
def _store() -> DynamoDBPersistenceLayer:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer  # noqa: PLC0415 - see above

    return DynamoDBPersistenceLayer(table_name=get_settings().idempotency_table_name, boto3_client=client("dynamodb"))


@cache
def _config() -> IdempotencyConfig:
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig  # noqa: PLC0415 - see above

    return IdempotencyConfig(
        event_key_jmespath="[tenant_id, key]",
        payload_validation_jmespath="body",
        expires_after_seconds=KEEP_SECONDS,
        raise_on_no_idempotency_key=True,
    )


def register_lambda_context(context: Any) -> None:
    """Lets a request still in progress expire with the invocation, should the function time out."""
    _invocation["context"] = context


def claimed_id(scope: str, tenant_id: str, key: str | None, request: BaseModel, prefix: str) -> str:
    """A new id for what the request makes, the same on every attempt with this key: an attempt that
    failed after making something (its answer never recorded) is finished by the next, not made twice."""
    made = new_id(prefix)
    if key is None:
        return made
    return repository.claim_id(
        tenant_id,
        scope,
        hashlib.sha256(key.encode()).hexdigest(),
        fingerprint=hashlib.sha256(request.model_dump_json().encode()).hexdigest(),
        new=made,
        expires_at=now() + timedelta(seconds=KEEP_SECONDS),
    )


def once[Answer: BaseModel](
    scope: str, tenant_id: str, key: str | None, request: BaseModel, *, make: Callable[[], Answer], answer: type[Answer]
) -> Answer:
    """`make()`'s answer: made at most once per tenant, scope and key (and replayed after that), or
    every time when there is no key."""
    if key is None:
        return make()
    from aws_lambda_powertools.utilities.idempotency import idempotent_function  # noqa: PLC0415 - see above
    from aws_lambda_powertools.utilities.idempotency.exceptions import (  # noqa: PLC0415
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )

    config = _config()
    if "context" in _invocation:
        config.register_lambda_context(_invocation["context"])

    @idempotent_function(
        data_keyword_argument="request", persistence_store=_store(), config=config, key_prefix=f"imagejobs.{scope}"
    )
    def run(request: dict[str, Any]) -> dict[str, Any]:
        return make().model_dump(mode="json")

    try:
        made = run(request={"tenant_id": tenant_id, "key": key, "body": request.model_dump(mode="json")})
    except IdempotencyValidationError as error:
        raise ConflictError(
            "this Idempotency-Key was used with another body",
            details=[{"path": "Idempotency-Key", "message": "reused with another body"}],
        ) from error
    except IdempotencyAlreadyInProgressError as error:
        raise ConflictError("a request with this Idempotency-Key is still being handled; try again") from error
    return answer.model_validate(made)
