"""The archives queue: builds one archive per message, streaming outputs into a multipart upload."""

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from imagejobs.deadline import Deadline
from imagejobs.observability import logger, tracer
from imagejobs.services import archives
from imagejobs.settings import get_settings

# A failed record goes back to SQS for another delivery, even when it is the whole batch.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_handler(record: SQSRecord, lambda_context: LambdaContext) -> None:
    final = int(record.attributes.approximate_receive_count) >= get_settings().archive_max_receive_count
    archives.build(record.body, Deadline(lambda_context.get_remaining_time_in_millis, reserve_ms=10_000), final=final)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
