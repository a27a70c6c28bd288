"""POST /v1/jobs: records a job and starts it, now or when its upload lands."""

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.utilities.typing import LambdaContext

from imagejobs import api
from imagejobs.observability import logger, tracer
from imagejobs.services import creation, idempotency
from imagejobs.spec.documents import CreatedJobDocument
from imagejobs.spec.requests import JobRequest

router = Router()


@router.post(
    "/jobs",
    operation_id="createJob",
    tags=["Jobs"],
    status_code=202,
    summary="Create a job: a source and its outputs (or a preset)",
    security=api.KEYED,
    responses=api.responses(
        202, "The job, queued or awaiting its upload (with the form to send it)", 400, 401, 409, 413, 415, 422, 429
    ),
)
def create_job(
    caller: api.AnyCaller,
    request: Annotated[JobRequest, Body()],
    idempotency_key: api.IdempotencyKey = None,
) -> CreatedJobDocument:
    return creation.create_job(caller, request, idempotency_key)


app = api.resolver(router)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    idempotency.register_lambda_context(context)
    return app.resolve(event, context)
