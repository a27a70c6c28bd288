"""POST /v1/uploads: a presigned form to upload an image with."""

from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.utilities.typing import LambdaContext

from imagejobs import api, jobs
from imagejobs.models import UploadForm, UploadRequest
from imagejobs.observability import logger, tracer

app = APIGatewayRestResolver(enable_validation=True)
api.install_error_handlers(app)


@app.post("/uploads")
def create_upload(request: Annotated[UploadRequest, Body()]) -> Response[UploadForm]:
    form = jobs.create_upload(api.tenant_id(app), request)
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=form)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
