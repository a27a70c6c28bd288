"""GET /v1/jobs: the tenant's jobs, newest first, by status, a page at a time."""

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from imagejobs import api
from imagejobs.observability import logger, tracer
from imagejobs.services import jobs
from imagejobs.spec.documents import JobList, JobStatus

router = Router()


@router.get(
    "/jobs",
    operation_id="listJobs",
    tags=["Jobs"],
    summary="The tenant's jobs, newest first",
    security=api.KEYED,
    responses=api.responses(200, "A page of jobs", 400, 401, 422, 429),
)
def list_jobs(
    caller: api.KeyedCaller,
    status: Annotated[JobStatus | None, Query(description="only jobs in this status")] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="jobs per page")] = 20,
    cursor: Annotated[str | None, Query(max_length=200, description="`next_cursor` of the page before")] = None,
) -> JobList:
    return jobs.list_jobs(caller.tenant_id, status, limit, cursor)


app = api.resolver(router)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
