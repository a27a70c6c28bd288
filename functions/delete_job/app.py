"""DELETE /v1/jobs/{id}: removes the job and its stored images now."""

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.utilities.typing import LambdaContext

from imagejobs import api
from imagejobs.observability import logger, tracer
from imagejobs.services import jobs

router = Router()


@router.delete(
    "/jobs/<job_id>",
    operation_id="deleteJob",
    tags=["Jobs"],
    status_code=204,
    summary="Remove a job and its stored images now",
    security=api.KEYED,
    responses=api.responses(204, "Removed", 401, 404, 429),
)
def delete_job(caller: api.KeyedCaller, job_id: str) -> Response[None]:
    jobs.delete_job(caller.tenant_id, job_id)
    return Response(status_code=204)


app = api.resolver(router)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
