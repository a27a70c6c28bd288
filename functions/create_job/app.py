"""POST /v1/jobs: records a job and starts it, now or when its upload lands."""

from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.utilities.typing import LambdaContext

from imagejobs import api, jobs
from imagejobs.models import CreatedJobDocument, JobRequest
from imagejobs.observability import logger, tracer

app = APIGatewayRestResolver(enable_validation=True)
api.install_error_handlers(app)


@app.post("/jobs")
def create_job(request: Annotated[JobRequest, Body()]) -> Response[CreatedJobDocument]:
    document = jobs.create_job(api.tenant_id(app), request)
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=document)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
