"""The callbacks queue: job events from the bus, delivered to the jobs' callback URLs."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from imagejobs import batch_response
from imagejobs.batch_response import Message
from imagejobs.observability import logger, tracer
from imagejobs.services import callbacks


def handle(message: Message) -> None:
    callbacks.handle(message.body, message.receive_count, message.receipt_handle)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    # A failed delivery goes back to SQS (after the delay it set), even when it is the whole batch.
    return batch_response.messages(event, handle)
