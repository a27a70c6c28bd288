"""Callback delivery: the job's document POSTed to its callback URL, signed per Standard Webhooks."""

from __future__ import annotations

import http.client
import json

from standardwebhooks import Webhook

from imagejobs import jobs, net, repository
from imagejobs.events import BusEvent, JobEventDetail
from imagejobs.observability import logger
from imagejobs.records import JobRecord, StoredCallback, now
from imagejobs.settings import get_settings


def signed_headers(secret: str, message_id: str, body: str) -> dict[str, str]:
    timestamp = now()
    return {
        "content-type": "application/json",
        "user-agent": "imagejobs-webhooks",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, timestamp, body),
    }


def deliver(event: BusEvent) -> None:
    """Delivers the job event once and records the outcome in the job."""
    detail = JobEventDetail.model_validate(event.detail)
    job = repository.get_job(detail.tenant_id, detail.job_id)
    tenant = repository.get_tenant(detail.tenant_id)
    if job is None or job.callback is None or tenant is None:
        logger.info("nothing to deliver", extra={"job_id": detail.job_id})
        return
    body = json.dumps(
        {"type": f"job.{job.status}", "data": jobs.document(job).model_dump(mode="json")}, separators=(",", ":")
    )
    headers = signed_headers(tenant.webhook_secret, f"msg_{event.id}", body)
    try:
        reply = net.post(job.callback.url, body.encode(), headers, allow_loopback=get_settings().allow_loopback_urls)
        delivered = 200 <= reply.status < 300
        outcome = f"answered {reply.status}"
    except net.UnsafeUrlError as error:
        delivered, outcome = False, error.message
    except (OSError, http.client.HTTPException) as error:
        delivered, outcome = False, f"could not be reached ({type(error).__name__})"
    logger.info("callback delivery", extra={"job_id": job.id, "delivered": delivered, "outcome": outcome})

    def record(current: JobRecord) -> JobRecord:
        callback = current.callback or StoredCallback(url=job.callback.url)  # type: ignore[union-attr]
        status = "delivered" if delivered else "failed"
        return current.model_copy(
            update={"callback": callback.model_copy(update={"status": status, "attempts": callback.attempts + 1})}
        )

    repository.update_job(job.tenant_id, job.id, record)
