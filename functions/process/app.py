"""The jobs queue: S3 upload notifications and job messages, one record at a time."""

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from imagejobs.deadline import Deadline
from imagejobs.observability import logger, tracer
from imagejobs.services import processing
from imagejobs.settings import get_settings
from imagejobs.store.queue import Delivery

# A failed record goes back to SQS for another delivery, even when it is the whole batch.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_handler(record: SQSRecord, lambda_context: LambdaContext) -> None:
    attempt = int(record.attributes.approximate_receive_count)
    delivery = Delivery(attempt, attempt >= get_settings().max_receive_count, record.receipt_handle)
    processing.handle(record.body, Deadline(lambda_context.get_remaining_time_in_millis), delivery)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
