"""The archives queue: builds one archive per message, streaming outputs into a multipart upload."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from imagejobs import batch_response
from imagejobs.batch_response import Message
from imagejobs.deadline import Deadline
from imagejobs.observability import logger, tracer
from imagejobs.services import archives
from imagejobs.settings import get_settings


def handle(message: Message, context: LambdaContext) -> None:
    final = message.receive_count >= get_settings().archive_max_receive_count
    archives.build(message.body, Deadline(context.get_remaining_time_in_millis, reserve_ms=10_000), final=final)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    return batch_response.messages(event, lambda message: handle(message, context))
