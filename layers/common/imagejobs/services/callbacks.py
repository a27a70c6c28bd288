"""Callback delivery: the job's document POSTed to its callback URL, signed per Standard Webhooks,
retried with growing delays until it is delivered, refused for good (410), or out of attempts.

Each delivery of a job event is one SQS message; its receive count is the attempt number. A
failed attempt sets the message's visibility to the next delay, so SQS itself brings it back;
after the last attempt the message is left for SQS to park in the callbacks DLQ.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable
from dataclasses import dataclass

from standardwebhooks import Webhook

from imagejobs import net
from imagejobs.observability import logger
from imagejobs.services import batches, jobs
from imagejobs.settings import get_settings
from imagejobs.store import repository
from imagejobs.store.aws import client
from imagejobs.store.bus import BATCH_COMPLETED, BatchEventDetail, BusEvent, JobEventDetail
from imagejobs.store.records import JobRecord, StoredCallback, now

SQS_LONGEST_DELAY = 43200  # seconds: the longest visibility timeout SQS accepts


class RetryLaterError(Exception):
    """The delivery failed and is due again: SQS redelivers its message after the delay."""


@dataclass(frozen=True)
class Attempt:
    delivered: bool
    outcome: str
    retry_after: int | None = None  # what a 429 or 503 asked for, in seconds
    final: bool = False  # 410 Gone: the receiver wants no more


def signed_headers(secret: str, message_id: str, body: str) -> dict[str, str]:
    timestamp = now()
    return {
        "content-type": "application/json",
        "user-agent": "imagejobs-webhooks",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, timestamp, body),
    }


def handle(body: str, attempt: int, receipt_handle: str) -> None:
    """One message of the callbacks queue: a job event on the bus, delivered (again) to its URL."""
    event = BusEvent.parse(json.loads(body))
    delay = deliver(event, attempt)
    if delay is not None:
        client("sqs").change_message_visibility(
            QueueUrl=get_settings().callbacks_queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=delay
        )
        raise RetryLaterError(f"callback attempt {attempt} failed; next in {delay} s")


@dataclass(frozen=True)
class Subject:
    """What a callback tells about: its payload, where it goes, and where its delivery is recorded."""

    tenant_id: str
    payload: dict[str, object]
    url: str
    record: Callable[[str, int], None]  # (status, attempts)


def _subject(event: BusEvent) -> Subject | None:
    if event.detail_type == BATCH_COMPLETED:
        batch_detail = BatchEventDetail.model_validate(event.detail)
        batch = repository.get_batch(batch_detail.tenant_id, batch_detail.batch_id)
        if batch is None or batch.callback is None:
            return None
        callback = batch.callback

        def record_batch(status: str, attempts: int) -> None:
            update = callback.model_copy(update={"status": status, "attempts": attempts})
            repository.set_batch_fields(batch.tenant_id, batch.id, callback=update.model_dump())

        data = batches.document(batch).model_dump(mode="json")
        return Subject(batch.tenant_id, {"type": "batch.completed", "data": data}, callback.url, record_batch)
    detail = JobEventDetail.model_validate(event.detail)
    job = repository.get_job(detail.tenant_id, detail.job_id)
    if job is None or job.callback is None:
        return None
    url = job.callback.url

    def record_job(status: str, attempts: int) -> None:
        def change(current: JobRecord) -> JobRecord:
            callback = (current.callback or StoredCallback(url=url)).model_copy(
                update={"status": status, "attempts": attempts}
            )
            return current.model_copy(update={"callback": callback})

        repository.update_job(job.tenant_id, job.id, change)

    data = jobs.document(job).model_dump(mode="json")
    return Subject(job.tenant_id, {"type": f"job.{job.status}", "data": data}, url, record_job)


def deliver(event: BusEvent, attempt: int) -> int | None:
    """Delivers the event once and records the outcome in its job or batch; the delay before the
    next attempt, or None when there is none to make (delivered, refused for good, nothing to do).
    """
    subject = _subject(event)
    tenant = repository.get_tenant(subject.tenant_id) if subject else None
    if subject is None or tenant is None:
        logger.info("nothing to deliver", extra={"event": event.id})
        return None
    body = json.dumps(subject.payload, separators=(",", ":"))
    result = _post(subject.url, body, signed_headers(tenant.webhook_secret, f"msg_{event.id}", body))
    settings = get_settings()
    last = attempt >= settings.callback_max_attempts
    status = "delivered" if result.delivered else "failed" if result.final or last else "pending"
    logger.info(
        "callback attempt", extra={"event": event.id, "attempt": attempt, "status": status, "outcome": result.outcome}
    )
    subject.record(status, attempt)
    if status == "pending":
        scheduled = settings.callback_retry_delays[min(attempt, len(settings.callback_retry_delays)) - 1]
        return min(max(scheduled, result.retry_after or 0), SQS_LONGEST_DELAY)
    return 0 if status == "failed" and not result.final else None  # out of attempts: park it in the DLQ now


def _post(url: str, body: str, headers: dict[str, str]) -> Attempt:
    try:
        reply = net.post(url, body.encode(), headers, allow_loopback=get_settings().allow_loopback_urls)
    except net.UnsafeUrlError as error:
        return Attempt(delivered=False, outcome=error.message)
    except (OSError, http.client.HTTPException) as error:
        return Attempt(delivered=False, outcome=f"could not be reached ({type(error).__name__})")
    retry_after = reply.headers.get("retry-after", "")
    return Attempt(
        delivered=200 <= reply.status < 300,
        outcome=f"answered {reply.status}",
        retry_after=int(retry_after) if retry_after.isdigit() else None,
        final=reply.status == 410,
    )
