"""Batches: up to 100 jobs made in one request, sharing one callback (`batch.completed`) that fires
when every job has ended."""

from __future__ import annotations

from imagejobs.caller import Caller
from imagejobs.errors import ImageJobsError, NotFoundError
from imagejobs.ids import new_id
from imagejobs.services import creation, idempotency, views, waiting
from imagejobs.spec.documents import BatchCreated, BatchDocument
from imagejobs.spec.requests import BatchRequest
from imagejobs.store import repository
from imagejobs.store.records import BatchRecord, new_callback, now


def create_batch(caller: Caller, request: BatchRequest, idempotency_key: str | None = None) -> BatchCreated:
    return idempotency.once(
        "batches",
        caller.tenant_id,
        idempotency_key,
        request,
        make=lambda: _create_batch(caller, request, idempotency_key),
        answer=BatchCreated,
    )


def _create_batch(caller: Caller, request: BatchRequest, idempotency_key: str | None) -> BatchCreated:
    """Checks every job first, so a batch is made whole or not at all."""
    creation.check_url(request.callback_url, "callback_url")
    creation.check_metadata(request.metadata)
    prepared = []
    for index, job in enumerate(request.jobs):
        try:
            prepared.append(creation.prepare(caller, job))
        except ImageJobsError as error:
            error.details = [{**d, "path": f"jobs[{index}].{d['path']}"} for d in error.details]
            error.message = f"jobs[{index}]: {error.message}"
            raise
    created = now()
    job_ids = [new_id("job") for _ in prepared]
    batch = BatchRecord(
        tenant_id=caller.tenant_id,
        id=idempotency.claimed_id("batches", caller.tenant_id, idempotency_key, request, "bat"),
        job_ids=job_ids,
        created_at=created,
        expires_at=max(created + creation.ttl(job) for job, _ in prepared),
        metadata=request.metadata,
        callback=new_callback(request.callback_url) if request.callback_url else None,
    )
    batch = repository.put_new_batch(batch)  # or the one an earlier attempt of this request made: its jobs
    for job_id, (job, upload) in zip(batch.job_ids, prepared, strict=True):
        creation.create_prepared(caller, job, upload, batch_id=batch.id, job_id=job_id)
    return BatchCreated(batch_id=batch.id, job_ids=batch.job_ids)


def get_batch(tenant_id: str, batch_id: str, wait_seconds: float = 0) -> BatchDocument:
    """The batch, as soon as it has completed or when `wait_seconds` have passed (whichever is first)."""
    batch = waiting.wait_for(
        lambda: repository.get_batch(tenant_id, batch_id),
        lambda batch: batch is None or batch.completed_at is not None,
        wait_seconds,
    )
    if batch is None:
        raise NotFoundError(f"no batch {batch_id}")
    return views.batch_document(batch)
