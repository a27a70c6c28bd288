"""POST /v1/batches, GET /v1/batches/{id} and POST /v1/batches/{id}/retry: many jobs at once (listed,
or one per object under a prefix), one callback when all have ended."""

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from imagejobs import api
from imagejobs.observability import logger, tracer
from imagejobs.services import batches, idempotency
from imagejobs.spec.documents import BatchCreated, BatchDocument
from imagejobs.spec.requests import BatchRequest

router = Router()


@router.post(
    "/batches",
    operation_id="createBatch",
    tags=["Batches"],
    status_code=202,
    summary="Create up to 100 jobs, or one job per object under a prefix, that share one callback",
    security=api.KEYED,
    responses=api.responses(202, "The batch and its jobs' ids", 400, 401, 415, 409, 413, 422, 429),
)
def create_batch(
    caller: api.KeyedCaller,
    request: Annotated[BatchRequest, Body()],
    idempotency_key: api.IdempotencyKey = None,
) -> BatchCreated:
    return batches.create_batch(caller, request, idempotency_key)


@router.get(
    "/batches/<batch_id>",
    operation_id="getBatch",
    tags=["Batches"],
    summary="A batch: its status, counts and jobs",
    security=api.KEYED,
    responses=api.responses(200, "The batch", 400, 401, 404, 429),
)
def get_batch(
    caller: api.KeyedCaller,
    batch_id: str,
    wait: api.Wait = 0,
    failed_cursor: Annotated[
        str | None, Query(max_length=40, description="`next_failed_cursor` of the page before: more failed jobs")
    ] = None,
) -> BatchDocument:
    return batches.get_batch(caller.tenant_id, batch_id, wait, failed_cursor)


@router.post(
    "/batches/<batch_id>/retry",
    operation_id="retryBatch",
    tags=["Batches"],
    status_code=202,
    summary="Run a completed batch's failed jobs again; it completes again when they have ended",
    security=api.KEYED,
    responses=api.responses(202, "The batch, processing again", 401, 404, 409, 429),
)
def retry_batch(caller: api.KeyedCaller, batch_id: str) -> BatchDocument:
    return batches.retry_batch(caller.tenant_id, batch_id)


app = api.resolver(router)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    idempotency.register_lambda_context(context)
    return app.resolve(event, context)
