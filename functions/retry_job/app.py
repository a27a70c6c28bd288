"""POST /v1/jobs/{id}/retry: runs a failed job again."""

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.utilities.typing import LambdaContext

from imagejobs import api
from imagejobs.observability import logger, tracer
from imagejobs.services import jobs
from imagejobs.spec.documents import JobDocument

router = Router()


@router.post(
    "/jobs/<job_id>/retry",
    operation_id="retryJob",
    tags=["Jobs"],
    status_code=202,
    summary="Run a failed job again",
    security=api.KEYED,
    responses=api.responses(202, "The job, queued again", 401, 404, 409, 429),
)
def retry_job(caller: api.KeyedCaller, job_id: str) -> JobDocument:
    return jobs.retry_job(caller.tenant_id, job_id)


app = api.resolver(router)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
