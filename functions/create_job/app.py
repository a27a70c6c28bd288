"""POST /v1/jobs: records a job and starts it, now or when its upload lands."""

from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body, Header
from aws_lambda_powertools.utilities.typing import LambdaContext

from imagejobs import api, idempotency, jobs
from imagejobs.models import CreatedJobDocument, JobRequest
from imagejobs.observability import logger, tracer

app = APIGatewayRestResolver(enable_validation=True)
api.install_error_handlers(app)


@app.post("/jobs")
def create_job(
    request: Annotated[JobRequest, Body()],
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", max_length=255, description="the same key and body: the same job")
    ] = None,
) -> Response[CreatedJobDocument]:
    document = jobs.create_job(api.tenant_id(app), request, idempotency_key)
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=document)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    idempotency.register_lambda_context(context)
    return app.resolve(event, context)
