"""GET /v1/usage: the caller's limits and today's use, from API Gateway's usage plan."""

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.utilities.typing import LambdaContext

from imagejobs import api
from imagejobs.observability import logger, tracer
from imagejobs.services import usage

router = Router()


@router.get(
    "/usage",
    operation_id="getUsage",
    tags=["Usage"],
    summary="The caller's limits and today's use",
    description="A key's own rate, burst and daily quota with what it used today, and the limits of its tier. "
    "Anonymous callers (where the deployer allows them) share one rate and quota, and see what all of them used. "
    "API Gateway updates the counts with a delay; this request is counted too.",
    security=api.KEYED,
    responses=api.responses(200, "The caller's limits and today's use", 401, 429),
)
def get_usage(caller: api.AnyCaller) -> usage.Usage:
    return usage.for_caller(caller)


app = api.resolver(router)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
