"""Batches: up to 100 listed jobs made in one request, or one job per object under a prefix of a
connected bucket (made page by page by the fan-out function, `services.fan_out`), sharing one
callback (`batch.completed`) that fires when every job has ended.

A retry (`POST /v1/batches/{id}/retry`, of a completed batch) queues its failed jobs again: they
leave its `failed` count for `queued`, the batch is `processing` again, and it completes again (a
second `batch.completed`, with a webhook-id of its own) once they have ended.
"""

from __future__ import annotations

import re
from datetime import timedelta

from imagejobs.caller import Caller
from imagejobs.errors import ConflictError, ImageJobsError, MalformedRequestError, NotFoundError, RequestValidationError
from imagejobs.ids import new_id
from imagejobs.services import creation, endings, idempotency, jobs, views, waiting
from imagejobs.services.grants import Grants
from imagejobs.spec.documents import BatchCreated, BatchDocument
from imagejobs.spec.requests import BatchRequest
from imagejobs.store import queue, repository
from imagejobs.store.records import BatchRecord, new_callback, now

_BATCH_ID = re.compile(r"bat_[0-9A-Z]{26}")


def create_batch(caller: Caller, request: BatchRequest, idempotency_key: str | None = None) -> BatchCreated:
    make = _create_prefix_batch if request.source is not None else _create_batch
    return idempotency.once(
        "batches",
        caller.tenant_id,
        idempotency_key,
        request,
        make=lambda: make(caller, request, idempotency_key),
        answer=BatchCreated,
    )


def _create_batch(caller: Caller, request: BatchRequest, idempotency_key: str | None) -> BatchCreated:
    """Checks every job first, so a batch is made whole or not at all."""
    creation.check_url(request.callback_url, "callback_url")
    creation.check_metadata(request.metadata)
    prepared = []
    for index, job in enumerate(request.jobs or []):
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


def _create_prefix_batch(caller: Caller, request: BatchRequest, idempotency_key: str | None) -> BatchCreated:
    """Checks the prefix's grant and the outputs (as a job of a key under the prefix), records the
    batch and asks the fan-out function for its first page; its jobs are made as the pages come."""
    creation.check_url(request.callback_url, "callback_url")
    creation.check_metadata(request.metadata)
    prefix = request.source.s3_prefix if request.source else None
    if prefix is None:
        raise RequestValidationError.at("source", "give s3_prefix")
    grants = Grants(caller.tenant_id)
    if not grants.on_bucket("read", prefix.bucket):
        raise RequestValidationError.at("source.s3_prefix.bucket", "no grant lets this tenant read this bucket")
    if not grants.covers("read", prefix.bucket, prefix.prefix):
        raise RequestValidationError.at("source.s3_prefix.prefix", "no grant lets this tenant read every key under it")
    creation.prepare(caller, request.job(f"{prefix.prefix}example.jpg"))  # its outputs, as a job of one key
    created = now()
    batch = BatchRecord(
        tenant_id=caller.tenant_id,
        id=idempotency.claimed_id("batches", caller.tenant_id, idempotency_key, request, "bat"),
        job_ids=[],
        created_at=created,
        # Its jobs are made as it lists and all expire with it.
        expires_at=created + timedelta(seconds=request.ttl_seconds),
        metadata=request.metadata,
        callback=new_callback(request.callback_url) if request.callback_url else None,
        kind="prefix",
        tier=caller.tier,
        request=request.model_copy(update={"callback_url": None}),
        listing="listing",
    )
    batch = repository.put_new_batch(batch)
    if batch.page == 0 and batch.listing == "listing":  # an earlier attempt may have asked already: a page is made once
        queue.send_fan_out(queue.ListPageMessage(tenant_id=batch.tenant_id, batch_id=batch.id, page=0))
    return BatchCreated(batch_id=batch.id, job_ids=[])


def get_batch(
    tenant_id: str, batch_id: str, wait_seconds: float = 0, failed_cursor: str | None = None
) -> BatchDocument:
    """The batch, as soon as it has completed or when `wait_seconds` have passed (whichever is first)."""
    if failed_cursor is not None and not jobs.JOB_ID.fullmatch(failed_cursor):
        raise MalformedRequestError(
            "failed_cursor is not one this API gave", details=[{"path": "failed_cursor", "message": "not valid"}]
        )
    batch = waiting.wait_for(
        lambda: _find(tenant_id, batch_id),
        lambda batch: batch is None or batch.completed_at is not None,
        wait_seconds,
    )
    if batch is None:
        raise NotFoundError(f"no batch {batch_id}")
    return views.batch_document(batch, failed_after=failed_cursor)


def _find(tenant_id: str, batch_id: str) -> BatchRecord | None:
    return repository.get_batch(tenant_id, batch_id) if _BATCH_ID.fullmatch(batch_id) else None


def retry_batch(tenant_id: str, batch_id: str) -> BatchDocument:
    """Queues the completed batch's failed jobs again (a prefix batch's, page by page, through the
    fan-out function); it completes again once they have ended."""
    batch = _find(tenant_id, batch_id)
    if batch is None:
        raise NotFoundError(f"no batch {batch_id}")
    if batch.completed_at is None:
        raise ConflictError(
            f"batch {batch_id} is processing; its failed jobs can be retried once it has completed",
            details=[{"path": "batch_id", "message": "the batch is processing, not completed"}],
        )
    failed = batch.failed_count if batch.kind == "prefix" else len(batch.failed)
    if failed == 0:
        raise ConflictError(
            f"batch {batch_id} has no failed job", details=[{"path": "batch_id", "message": "no job failed"}]
        )
    if not repository.start_batch_retry(tenant_id, batch_id):
        raise ConflictError(
            f"batch {batch_id} is being retried already",
            details=[{"path": "batch_id", "message": "the batch is processing, not completed"}],
        )
    if batch.kind == "prefix":
        queue.send_fan_out(queue.RetryPageMessage(tenant_id=tenant_id, batch_id=batch_id))
    else:
        retried = [jobs.retry(job) for job in repository.get_jobs(tenant_id, batch.failed) if job.status == "failed"]
        queue.send_jobs(tenant_id, [job.id for job in retried])
        endings.complete_if_done(repository.end_batch_retry(tenant_id, batch_id))
    found = repository.get_batch(tenant_id, batch_id)
    if found is None:
        raise NotFoundError(f"no batch {batch_id}")
    return views.batch_document(found)
