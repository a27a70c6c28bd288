"""The table's stream, filtered to TTL removals: the expired records' images are deleted."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from imagejobs import batch_response
from imagejobs.observability import logger, tracer
from imagejobs.services import expiry


def handle(keys: dict[str, str]) -> None:
    expiry.expired(keys.get("pk", ""), keys.get("sk", ""))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    return batch_response.stream_keys(event, handle)
