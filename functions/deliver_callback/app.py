"""The callbacks queue: job events from the bus, delivered to the jobs' callback URLs."""

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from imagejobs.observability import logger, tracer
from imagejobs.services import callbacks

# A failed delivery goes back to SQS (after the delay it set), even when it is the whole batch.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_handler(record: SQSRecord) -> None:
    callbacks.handle(record.body, int(record.attributes.approximate_receive_count), record.receipt_handle)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict, context: LambdaContext) -> dict:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
