"""The fan-out queue: one page of a prefix batch's listing (or of its failed jobs, retried) per
message; and that queue's dead-letter queue, whose messages end the batch's listing as failed."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from imagejobs import batch_response
from imagejobs.batch_response import Message
from imagejobs.observability import logger, tracer
from imagejobs.services import fan_out
from imagejobs.settings import get_settings


def handle(message: Message) -> None:
    if message.source_arn == get_settings().fan_out_dead_letter_arn:
        fan_out.dead_letter(message.body)
    else:
        fan_out.handle(message.body, redelivered=message.receive_count > 1)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    return batch_response.messages(event, handle)
