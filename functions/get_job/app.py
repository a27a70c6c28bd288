"""GET /v1/jobs/{id}: the job document, with fresh download links."""

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.utilities.typing import LambdaContext

from imagejobs import api, jobs
from imagejobs.models import JobDocument
from imagejobs.observability import logger, tracer

app = APIGatewayRestResolver(enable_validation=True)
api.install_error_handlers(app)


@app.get("/jobs/<job_id>")
def get_job(job_id: str) -> JobDocument:
    return jobs.get_job(api.tenant_id(app), job_id)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
