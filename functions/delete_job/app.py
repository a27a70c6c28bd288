"""DELETE /v1/jobs/{id}: removes the job and its stored images now."""

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from imagejobs import api, jobs
from imagejobs.observability import logger, tracer

app = APIGatewayRestResolver(enable_validation=True)
api.install_error_handlers(app)


@app.delete("/jobs/<job_id>")
def delete_job(job_id: str) -> Response[None]:
    jobs.delete_job(api.tenant_id(app), job_id)
    return Response(status_code=204)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
