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
from imagejobs.batch_response import RetryLaterError
from imagejobs.observability import logger
from imagejobs.services import measures, views
from imagejobs.settings import get_settings
from imagejobs.spec.events import BATCH_COMPLETED, JOB_ENDINGS, BatchCallback, JobCallback, Subject
from imagejobs.store import repository, tenants
from imagejobs.store.aws import client
from imagejobs.store.records import CallbackStatus, now

SQS_LONGEST_DELAY = 43200  # seconds: the longest visibility timeout SQS accepts
UNEXPECTED_RETRY = 10  # seconds before a delivery that failed unexpectedly comes again


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
    """One message of the callbacks queue: an event from the bus, delivered (again) to its URL. A
    delivery that fails unexpectedly around its attempt (AWS throttling a read) comes back in
    `UNEXPECTED_RETRY` seconds, not after the queue's whole visibility timeout."""
    event = json.loads(body)
    try:
        delay = deliver(event["id"], event["detail-type"], Subject.model_validate(event["detail"]), attempt)
    except Exception:  # noqa: BLE001 - not the receiver's fault: logged, then delivered again soon
        logger.exception("callback delivery failed unexpectedly", extra={"attempt": attempt})
        delay = UNEXPECTED_RETRY
    if delay is not None:
        client("sqs").change_message_visibility(
            QueueUrl=get_settings().callbacks_queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=delay
        )
        raise RetryLaterError(f"callback attempt {attempt} failed; next in {delay} s")


@dataclass(frozen=True)
class Delivery:
    """A callback to make: its body, where it goes, and how its outcome is recorded."""

    tenant_id: str
    body: JobCallback | BatchCallback
    url: str
    record: Callable[[CallbackStatus, int], None]  # (status, attempts)
    message_id: str  # the webhook-id: one per ending of a job (or completion of a batch), whatever is redelivered


def _delivery(detail_type: str, subject: Subject) -> Delivery | None:
    """The callback the event asks for, made from the job or batch as it is now (fresh links)."""
    if detail_type == BATCH_COMPLETED:
        batch = repository.get_batch(subject.tenant_id, subject.id)
        if batch is None or batch.callback is None:
            return None

        def record_batch(status: CallbackStatus, attempts: int) -> None:
            callback = batch.callback_attempted(status, attempts).callback
            repository.set_batch_fields(batch.tenant_id, batch.id, callback=callback.model_dump() if callback else None)

        body: JobCallback | BatchCallback = BatchCallback(type="batch.completed", data=views.batch_event(batch))
        completed = int(batch.completed_at.timestamp()) if batch.completed_at else 0
        message_id = f"msg_{batch.id}_{batch.completions}_{completed}"  # one per completion: a retry completes anew
        return Delivery(batch.tenant_id, body, batch.callback.url, record_batch, message_id)
    job = repository.get_job(subject.tenant_id, subject.id)
    if job is None or job.callback is None or not job.finished:
        return None

    def record_job(status: CallbackStatus, attempts: int) -> None:
        repository.update_job(job.tenant_id, job.id, lambda current: current.callback_attempted(status, attempts))

    body = JobCallback.model_validate({"type": JOB_ENDINGS[job.status][1], "data": views.job_event(job)})
    # An ending publishes its event again when recording that it did failed: the webhook-id is the
    # ending's own (a retried job starts again, so its next ending has more attempts), not the event's.
    finished = int(job.finished_at.timestamp()) if job.finished_at else 0
    return Delivery(job.tenant_id, body, job.callback.url, record_job, f"msg_{job.id}_{job.attempts}_{finished}")


def deliver(event_id: str, detail_type: str, subject: Subject, attempt: int) -> int | None:
    """Delivers the event's callback once and records the outcome in its job or batch; the delay
    before the next attempt, or None when there is none to make (delivered, refused for good,
    nothing to do).
    """
    delivery = _delivery(detail_type, subject)
    tenant = tenants.get_tenant(subject.tenant_id) if delivery else None
    if delivery is None or tenant is None:
        logger.info("nothing to deliver", extra={"event": event_id})
        return None
    body = delivery.body.model_dump_json()
    result = _post(delivery.url, body, signed_headers(tenant.webhook_secret, delivery.message_id, body))
    settings = get_settings()
    last = attempt >= settings.callback_max_attempts
    status: CallbackStatus = "delivered" if result.delivered else "failed" if result.final or last else "pending"
    logger.info(
        "callback attempt", extra={"event": event_id, "attempt": attempt, "status": status, "outcome": result.outcome}
    )
    delivery.record(status, attempt)
    measures.callback_attempted(status)
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
