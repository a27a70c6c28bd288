"""The jobs queue's dead-letter queue: a message every delivery of which failed to finish (Lambda
stopped the function: out of time or memory) fails its job, with its event and callback."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from imagejobs import batch_response
from imagejobs.batch_response import Message
from imagejobs.observability import logger, tracer
from imagejobs.services import dead_letters


def handle(message: Message) -> None:
    dead_letters.handle(message.body)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    return batch_response.messages(event, handle)
