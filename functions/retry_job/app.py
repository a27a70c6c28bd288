"""POST /v1/jobs/{id}/retry: runs a failed job again."""

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.utilities.typing import LambdaContext

from imagejobs import api, jobs
from imagejobs.models import JobDocument
from imagejobs.observability import logger, tracer

app = APIGatewayRestResolver(enable_validation=True)
api.install_error_handlers(app)


@app.post("/jobs/<job_id>/retry")
def retry_job(job_id: str) -> Response[JobDocument]:
    document = jobs.retry_job(api.tenant_id(app), job_id)
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=document)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
