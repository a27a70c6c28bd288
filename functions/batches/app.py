"""POST /v1/batches and GET /v1/batches/{id}: many jobs at once, one callback when all have ended."""

from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body, Header
from aws_lambda_powertools.utilities.typing import LambdaContext

from imagejobs import api, batches, idempotency
from imagejobs.models import BatchCreated, BatchDocument, BatchRequest
from imagejobs.observability import logger, tracer

app = APIGatewayRestResolver(enable_validation=True)
api.install_error_handlers(app)


@app.post("/batches")
def create_batch(
    request: Annotated[BatchRequest, Body()],
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", max_length=255, description="the same key and body: the same batch")
    ] = None,
) -> Response[BatchCreated]:
    created = batches.create_batch(api.tenant_id(app), request, idempotency_key)
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=created)


@app.get("/batches/<batch_id>")
def get_batch(batch_id: str) -> BatchDocument:
    return batches.get_batch(api.tenant_id(app), batch_id)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    idempotency.register_lambda_context(context)
    return app.resolve(event, context)
