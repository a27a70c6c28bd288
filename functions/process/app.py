"""The jobs queue: S3 upload notifications and job messages, one record at a time."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from imagejobs import batch_response
from imagejobs.batch_response import Message
from imagejobs.deadline import Deadline
from imagejobs.observability import logger, tracer
from imagejobs.services import processing
from imagejobs.settings import get_settings
from imagejobs.store.queue import Delivery


def handle(message: Message, context: LambdaContext) -> None:
    attempt = message.receive_count
    delivery = Delivery(attempt, attempt >= get_settings().max_receive_count, message.receipt_handle)
    processing.handle(message.body, Deadline(context.get_remaining_time_in_millis), delivery)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    return batch_response.messages(event, lambda message: handle(message, context))
