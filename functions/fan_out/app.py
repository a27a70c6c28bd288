"""The fan-out queue: one page of a prefix batch's listing (or of its failed jobs, retried) per
message; and that queue's dead-letter queue, whose messages end the batch's listing as failed."""

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from imagejobs.observability import logger, tracer
from imagejobs.services import fan_out
from imagejobs.settings import get_settings

# A failed record goes back to SQS for another delivery, even when it is the whole batch.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_handler(record: SQSRecord) -> None:
    if record.event_source_arn == get_settings().fan_out_dead_letter_arn:
        fan_out.dead_letter(record.body)
    else:
        fan_out.handle(record.body, redelivered=int(record.attributes.approximate_receive_count) > 1)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
