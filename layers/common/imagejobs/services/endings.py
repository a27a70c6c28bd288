"""A job's end, made known once: its event on the bus, and its count in its batch (whose own event
follows when it was the last). Shared by the processor and the dead-letter queue's consumer."""

from __future__ import annotations

from imagejobs.errors import ConflictError
from imagejobs.services import measures, views
from imagejobs.spec.events import BATCH_COMPLETED, JOB_ENDINGS
from imagejobs.store import bus, repository
from imagejobs.store.records import BatchRecord, JobRecord


def announce(job: JobRecord) -> None:
    """Publishes the ended job's event (once), and counts it into its batch."""
    if not job.notified:
        bus.publish(JOB_ENDINGS[job.status][0], views.job_event(job))
        # read again if its callback was recorded meanwhile: a conflict here would publish it twice
        announced = repository.update_job(job.tenant_id, job.id, lambda current: current.announced())
        if announced is None:
            return  # deleted meanwhile
        job = announced
        measures.job_ended(
            status="succeeded" if job.status == "succeeded" else "failed",
            error_code=job.error.code if job.error else None,
            tier=job.tier,
            queued_at=job.queued_at or job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at or job.created_at,
            source_bytes=job.source.bytes,
            outputs=[(output.format, output.bytes) for output in job.outputs],
        )
    _count_into_batch(job)


def _count_into_batch(job: JobRecord) -> None:
    """Counts an ended job into its batch (once, whatever is redelivered); when it was the last, the
    batch completes."""
    if job.batch_id is None:
        return
    batch = repository.get_batch(job.tenant_id, job.batch_id)
    if batch is None:
        return
    if batch.kind == "jobs":
        batch = repository.batch_job_ended(job.tenant_id, job.batch_id, job.id, succeeded=job.status == "succeeded")
    else:
        if not _count(job):
            return
        batch = repository.get_batch(job.tenant_id, job.batch_id)  # with its count, and any that came meanwhile
        if batch is None:
            return
    complete_if_done(batch)


def _count(job: JobRecord) -> bool:
    """Counts the ended job into its prefix batch's counts, in one transaction with the job's own
    record of it; whether it is counted now (not when it is gone, or was retried meanwhile)."""
    for _ in range(5):
        if job.counted:
            return True
        try:
            repository.count_batch_job(job)
        except ConflictError:
            current = repository.get_job(job.tenant_id, job.id)
            if current is None or current.status != job.status:
                return False
            job = current
            continue
        return True
    raise ConflictError(f"job {job.id} keeps changing: it could not be counted into its batch")


def complete_if_done(batch: BatchRecord) -> None:
    """Completes the batch when every job it will have has ended (once: whoever sees it first), and
    publishes its Batch Completed event (again, should an earlier publication have failed). Called
    after each change that may be the last: a job counted, a listing or retry ended."""
    if batch.complete and batch.completed_at is None and repository.complete_batch(batch):
        batch = batch.completed()
    if batch.completed_at is not None and not batch.notified:
        bus.publish(BATCH_COMPLETED, views.batch_event(batch))
        repository.set_batch_fields(batch.tenant_id, batch.id, notified=True)
