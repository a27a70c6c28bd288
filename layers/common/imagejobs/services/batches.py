"""Batches: up to 100 jobs made in one request, sharing one callback (`batch.completed`) that fires
when every job has ended."""

from __future__ import annotations

from collections import Counter

from imagejobs.errors import ImageJobsError, NotFoundError
from imagejobs.ids import new_id
from imagejobs.services import idempotency, jobs
from imagejobs.services.auth import Caller
from imagejobs.spec.documents import BatchCounts, BatchCreated, BatchDocument, BatchJob, CallbackDocument
from imagejobs.spec.requests import BatchRequest
from imagejobs.store import bus as events
from imagejobs.store import repository
from imagejobs.store.records import BatchRecord, JobRecord, StoredCallback, now


def create_batch(caller: Caller, request: BatchRequest, idempotency_key: str | None = None) -> BatchCreated:
    return idempotency.once(
        "batches",
        caller.tenant_id,
        idempotency_key,
        request,
        make=lambda: _create_batch(caller, request),
        answer=BatchCreated,
    )


def _create_batch(caller: Caller, request: BatchRequest) -> BatchCreated:
    """Checks every job first, so a batch is made whole or not at all."""
    jobs.check_url(request.callback_url, "callback_url")
    jobs.check_metadata(request.metadata)
    prepared = []
    for index, job in enumerate(request.jobs):
        try:
            prepared.append(jobs.prepare(caller, job))
        except ImageJobsError as error:
            error.details = [{**d, "path": f"jobs[{index}].{d['path']}"} for d in error.details]
            error.message = f"jobs[{index}]: {error.message}"
            raise
    created = now()
    batch = BatchRecord(
        tenant_id=caller.tenant_id,
        id=new_id("bat"),
        job_ids=[],
        created_at=created,
        expires_at=max(created + jobs.ttl(job) for job, _ in prepared),
        metadata=request.metadata,
        callback=StoredCallback(url=request.callback_url) if request.callback_url else None,
    )
    job_ids = [new_id("job") for _ in prepared]
    repository.put_new_batch(batch.model_copy(update={"job_ids": job_ids}))
    for job_id, (job, upload) in zip(job_ids, prepared, strict=True):
        jobs.create_prepared(caller, job, upload, batch_id=batch.id, job_id=job_id)
    return BatchCreated(batch_id=batch.id, job_ids=job_ids)


def get_batch(tenant_id: str, batch_id: str) -> BatchDocument:
    batch = repository.get_batch(tenant_id, batch_id)
    if batch is None:
        raise NotFoundError(f"no batch {batch_id}")
    return document(batch)


def document(batch: BatchRecord) -> BatchDocument:
    found = {job.id: job for job in repository.get_jobs(batch.tenant_id, batch.job_ids)}
    listed = [BatchJob(id=job_id, status=found[job_id].status) for job_id in batch.job_ids if job_id in found]
    counts: Counter[str] = Counter(job.status for job in listed)
    return BatchDocument(
        id=batch.id,
        status="completed" if batch.completed_at else "processing",
        created_at=batch.created_at,
        completed_at=batch.completed_at,
        expires_at=batch.expires_at,
        counts=BatchCounts(total=len(batch.job_ids), **counts),
        jobs=listed,
        metadata=batch.metadata,
        callback=CallbackDocument(**batch.callback.model_dump()) if batch.callback else None,
    )


def job_ended(job: JobRecord) -> None:
    """Counts a finished job into its batch; when it was the last, the batch completes (once) and
    its Batch Completed event is published (again, should an earlier publication have failed)."""
    if job.batch_id is None:
        return
    batch = repository.batch_job_ended(job.tenant_id, job.batch_id, job.id, succeeded=job.status == "succeeded")
    if batch.ended == len(batch.job_ids) and batch.completed_at is None and repository.complete_batch(batch):
        batch = batch.model_copy(update={"completed_at": now()})
    if batch.completed_at is not None and not batch.notified:
        events.publish_batch(batch)
        repository.set_batch_fields(batch.tenant_id, batch.id, notified=True)
