"""A job's end, made known once: its event on the bus, and its count in its batch (whose own event
follows when it was the last). Shared by the processor and the dead-letter queue's consumer."""

from __future__ import annotations

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
    if job.counted:  # a prefix batch's job counted by an earlier delivery: its batch may not know it is done
        batch = repository.get_batch(job.tenant_id, job.batch_id)
    elif job.prefix_batch:
        batch = repository.count_batch_job(job.tenant_id, job.batch_id, succeeded=job.status == "succeeded")
        # (not when it was retried meanwhile: its next ending is counted anew)
        repository.update_job(
            job.tenant_id, job.id, lambda now: now.counted_in_batch() if now.status == job.status else now
        )
    else:
        batch = repository.batch_job_ended(job.tenant_id, job.batch_id, job.id, succeeded=job.status == "succeeded")
    if batch is not None:
        complete_if_done(batch)


def deleted(job: JobRecord) -> None:
    """Counts a job of a batch that was deleted before it ended as failed in its batch: its
    processing stops when it finds the job gone, and the batch would wait for it forever. `job` is
    the job as the deletion removed it, so a job that ended first is counted by its processing
    alone."""
    if job.batch_id is None or job.finished:
        return
    if job.prefix_batch:
        batch = repository.count_batch_job(job.tenant_id, job.batch_id, succeeded=False)
    else:
        batch = repository.batch_job_ended(job.tenant_id, job.batch_id, job.id, succeeded=False)
    complete_if_done(batch)


def complete_if_done(batch: BatchRecord) -> None:
    """Completes the batch when every job it will have has ended (once: whoever sees it first), and
    publishes its Batch Completed event (again, should an earlier publication have failed). Called
    after each change that may be the last: a job counted, a listing or retry ended."""
    if batch.complete and batch.completed_at is None and repository.complete_batch(batch):
        batch = batch.completed()
    if batch.completed_at is not None and not batch.notified:
        bus.publish(BATCH_COMPLETED, views.batch_event(batch))
        repository.set_batch_fields(batch.tenant_id, batch.id, notified=True)
