"""What travels on the jobs queue: job messages (sent by the API and the processor, one model both
ways) and S3's notifications of landed uploads (S3's own format, skipped when it is a test event)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field, TypeAdapter

from imagejobs.settings import get_settings
from imagejobs.spec.model import DEFERRED, Model
from imagejobs.store.aws import client


class JobMessage(Model):
    type: Literal["job"] = "job"
    tenant_id: str
    job_id: str


class S3Object(Model):
    key: str  # quote_plus-encoded, as S3 sends it
    size: int = 0


class S3Entity(Model):
    object: S3Object


class S3Record(Model):
    eventName: str  # noqa: N815 (S3's own field name)
    s3: S3Entity


class S3Notification(Model):
    Records: list[S3Record]


class S3TestEvent(Model):
    Event: Literal["s3:TestEvent"]


type Message = JobMessage | S3Notification | S3TestEvent
MESSAGE = TypeAdapter[Message](Annotated[Message, Field(union_mode="left_to_right")], config=DEFERRED)


def send_job(tenant_id: str, job_id: str) -> None:
    """Asks the processor to run the job (a second message for a queued job is harmless: a job runs once)."""
    body = JobMessage(tenant_id=tenant_id, job_id=job_id).model_dump_json()
    client("sqs").send_message(QueueUrl=get_settings().jobs_queue_url, MessageBody=body)


class ArchiveMessage(Model):
    """On the archives queue: build the archive of this job or batch."""

    type: Literal["archive"] = "archive"
    tenant_id: str
    archive_id: str


def send_archive(tenant_id: str, archive_id: str) -> None:
    body = ArchiveMessage(tenant_id=tenant_id, archive_id=archive_id).model_dump_json()
    client("sqs").send_message(QueueUrl=get_settings().archives_queue_url, MessageBody=body)


def send_jobs(tenant_id: str, job_ids: list[str]) -> None:
    """`send_job` for many jobs, ten to a request (SQS's most)."""
    sqs, url = client("sqs"), get_settings().jobs_queue_url
    for start in range(0, len(job_ids), 10):
        entries = [
            {"Id": str(index), "MessageBody": JobMessage(tenant_id=tenant_id, job_id=job_id).model_dump_json()}
            for index, job_id in enumerate(job_ids[start : start + 10])
        ]
        failed = sqs.send_message_batch(QueueUrl=url, Entries=entries).get("Failed", [])
        if failed:  # raised, so the page is delivered again and sends them again
            raise QueueSendError(f"{len(failed)} job messages were not sent: {failed[0].get('Code')}")


class QueueSendError(Exception):
    """SQS did not take some of the messages of a batch send."""


class ListPageMessage(Model):
    """On the fan-out queue: make jobs of the next page (up to 1,000 keys) of a prefix batch's listing."""

    type: Literal["list_page"] = "list_page"
    tenant_id: str
    batch_id: str
    page: int = Field(ge=0)
    start_after: str | None = None  # the last key of the page before (S3's StartAfter)


class RetryPageMessage(Model):
    """On the fan-out queue: queue again the next page of a prefix batch's failed jobs."""

    type: Literal["retry_page"] = "retry_page"
    tenant_id: str
    batch_id: str
    after: str | None = None  # the last job id of the page before


type FanOutMessage = ListPageMessage | RetryPageMessage
FAN_OUT_MESSAGE = TypeAdapter[FanOutMessage](Annotated[FanOutMessage, Field(discriminator="type")], config=DEFERRED)


def send_fan_out(message: ListPageMessage | RetryPageMessage) -> None:
    client("sqs").send_message(QueueUrl=get_settings().fan_out_queue_url, MessageBody=message.model_dump_json())


def parse_fan_out(body: str) -> FanOutMessage:
    return FAN_OUT_MESSAGE.validate_json(body)


def parse(body: str) -> Message:
    return MESSAGE.validate_json(body)


@dataclass(frozen=True)
class Delivery:
    """One delivery of a jobs-queue message: which one it is, and how to have it come back sooner."""

    attempt: int  # SQS's receive count
    final: bool  # the last before SQS parks the message in the dead-letter queue
    receipt_handle: str

    def retry_in(self, seconds: int) -> None:
        """Makes the message visible again after `seconds` (not the queue's whole visibility timeout)."""
        client("sqs").change_message_visibility(
            QueueUrl=get_settings().jobs_queue_url, ReceiptHandle=self.receipt_handle, VisibilityTimeout=seconds
        )
