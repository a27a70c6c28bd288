"""The jobs queue's dead letters: a message whose every delivery failed to finish (Lambda stopped the
function: out of time or memory) fails its jobs, with their events and callbacks, so none is left
behind. This consumer loads no codecs."""

from __future__ import annotations

from imagejobs.observability import logger, logging_keys
from imagejobs.services import endings
from imagejobs.store import queue, repository, storage
from imagejobs.store.records import JobRecord


def handle(body: str) -> None:
    """A jobs-queue message whose every delivery failed to finish: its jobs fail, none is left behind."""
    message = queue.parse(body)
    if isinstance(message, queue.JobMessage):
        _fail_unfinished(message.tenant_id, message.job_id)
    elif isinstance(message, queue.S3Notification):
        for record in message.Records:
            parsed = storage.parse_upload_key(storage.unquote_key(record.s3.object.key))
            upload = repository.get_upload(*parsed) if parsed else None
            for job_id in upload.waiting_job_ids if upload else ():
                _fail_unfinished(upload.tenant_id, job_id)  # type: ignore[union-attr]


def _fail_unfinished(tenant_id: str, job_id: str) -> None:
    def fail(job: JobRecord) -> JobRecord:
        if job.finished:
            return job
        if job.status == "processing":  # an attempt started and never ended: Lambda stopped it
            return job.failed(
                "timeout",
                f"the function was stopped on each of its {job.attempts} attempts, out of time or memory; "
                "retry it, or ask for fewer or smaller outputs",
            )
        return job.failed("internal", "the job could not be started; it can be retried")

    with logging_keys(job_id=job_id, tenant_id=tenant_id):
        job = repository.update_job(tenant_id, job_id, fail)
        if job is None:
            storage.delete_outputs(tenant_id, job_id)
            return
        if job.error is not None:
            logger.warning("job failed from the dead-letter queue", extra={"code": job.error.code})
            storage.delete_outputs(tenant_id, job_id)  # what a stopped attempt stored: a failed job keeps none
        endings.announce(job)
