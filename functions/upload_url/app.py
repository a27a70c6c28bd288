"""POST /v1/uploads: a presigned form to upload an image with."""

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.utilities.typing import LambdaContext

from imagejobs import api
from imagejobs.observability import logger, tracer
from imagejobs.services import uploads
from imagejobs.spec.documents import UploadForm
from imagejobs.spec.requests import UploadRequest

router = Router()


@router.post(
    "/uploads",
    operation_id="createUpload",
    tags=["Uploads"],
    status_code=201,
    summary="A presigned form to upload an image straight to S3",
    security=api.KEYED,
    responses=api.responses(201, "The form: POST `fields`, then `file`, to `url`", 400, 401, 415, 413, 422, 429),
)
def create_upload(caller: api.AnyCaller, request: Annotated[UploadRequest, Body()]) -> UploadForm:
    return uploads.create_upload(caller, request)


app = api.resolver(router)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
