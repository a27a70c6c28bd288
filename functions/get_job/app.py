"""GET /v1/jobs/{id}: the job document, with fresh download links."""

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.utilities.typing import LambdaContext

from imagejobs import api
from imagejobs.observability import logger, tracer
from imagejobs.services import jobs
from imagejobs.spec.documents import JobDocument

router = Router()


@router.get(
    "/jobs/<job_id>",
    operation_id="getJob",
    tags=["Jobs"],
    summary="A job, with fresh download links for its outputs",
    security=api.KEYED,
    responses=api.responses(200, "The job", 401, 404, 429),
)
def get_job(caller: api.AnyCaller, job_id: str, wait: api.Wait = 0) -> JobDocument:
    return jobs.get_job(caller.tenant_id, job_id, wait)


app = api.resolver(router)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
