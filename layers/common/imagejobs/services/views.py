"""Records as clients see them: the job and batch documents of the API, and the events and callbacks
that carry the same documents (with the tenant's id). Storage keys never leave this module."""

from __future__ import annotations

from collections import Counter

from imagejobs.services import links
from imagejobs.spec import presets
from imagejobs.spec.documents import (
    BatchCounts,
    BatchDocument,
    BatchJob,
    FailedJob,
    JobDocument,
    JobState,
    ListingDocument,
    OutputDocument,
)
from imagejobs.spec.events import BatchEvent, JobEvent
from imagejobs.store import repository, storage
from imagejobs.store.records import BatchRecord, JobRecord


def job_document(job: JobRecord) -> JobDocument:
    """The job, with fresh download links and stable links for its finished outputs."""
    outputs = []
    for output in job.outputs:
        url, url_expires_at = storage.presigned_get(output.key, not_after=job.expires_at)
        shown = output.model_dump(exclude={"key", "content_type"})
        outputs.append(
            OutputDocument(
                **shown,
                url=url,
                url_expires_at=url_expires_at,
                link=links.link(job, output),
                cdn_url=storage.cdn_url(output.key),
            )
        )
    return JobDocument(
        **{name: getattr(job, name) for name in JobState.model_fields},
        outputs=outputs,
        metadata=job.request.metadata,
        srcset=presets.srcset(job.request.preset, outputs),
    )


def job_event(job: JobRecord) -> JobEvent:
    return JobEvent(**dict(job_document(job)), tenant_id=job.tenant_id)


FAILED_PAGE = 100  # failed jobs in one batch document (and its event)


def batch_document(batch: BatchRecord, failed_after: str | None = None) -> BatchDocument:
    """The batch: a batch of listed jobs with each job's status; a prefix batch with its counts and
    listing. Both with a page of their failed jobs (from after the job id `failed_after`)."""
    if batch.kind == "prefix":
        return _prefix_batch_document(batch, failed_after)
    found = {job.id: job for job in repository.get_jobs(batch.tenant_id, batch.job_ids)}
    listed = [BatchJob(id=job_id, status=found[job_id].status) for job_id in batch.job_ids if job_id in found]
    counts: Counter[str] = Counter(job.status for job in listed)
    failed = [found[job.id] for job in listed if job.status == "failed"]
    after = failed_after or ""
    page = [job for job in failed if job.id > after][:FAILED_PAGE]
    more = len([job for job in failed if job.id > after]) > FAILED_PAGE
    return BatchDocument(
        id=batch.id,
        status="completed" if batch.completed_at else "processing",
        created_at=batch.created_at,
        completed_at=batch.completed_at,
        expires_at=batch.expires_at,
        counts=BatchCounts(total=len(batch.job_ids), listed=len(batch.job_ids), **counts),
        jobs=listed,
        metadata=batch.metadata,
        callback=batch.callback,
        failed_jobs=[_failed(job) for job in page],
        next_failed_cursor=page[-1].id if more else None,
    )


def _prefix_batch_document(batch: BatchRecord, failed_after: str | None) -> BatchDocument:
    ids, last = repository.batch_jobs_with_status(
        batch.tenant_id, batch.id, "failed", limit=FAILED_PAGE, after=failed_after
    )
    found = {job.id: job for job in repository.get_jobs(batch.tenant_id, ids)}
    failed = [found[job_id] for job_id in ids if job_id in found and found[job_id].status == "failed"]
    request = batch.request
    return BatchDocument(
        id=batch.id,
        status="completed" if batch.completed_at else "processing",
        created_at=batch.created_at,
        completed_at=batch.completed_at,
        expires_at=batch.expires_at,
        counts=BatchCounts(
            total=batch.listed,
            listed=batch.listed,
            queued=batch.listed - batch.ended,
            succeeded=batch.succeeded_count,
            failed=batch.failed_count,
        ),
        jobs=[],
        metadata=batch.metadata,
        callback=batch.callback,
        kind="prefix",
        source=request.source if request else None,
        listing=ListingDocument(status=batch.listing, pages=batch.page, error=batch.listing_error),
        failed_jobs=[_failed(job) for job in failed],
        next_failed_cursor=last,
    )


def _failed(job: JobRecord) -> FailedJob:
    return FailedJob(id=job.id, error=job.error, source_key=job.source.s3.key if job.source.s3 else None)


def batch_event(batch: BatchRecord) -> BatchEvent:
    return BatchEvent(**dict(batch_document(batch)), tenant_id=batch.tenant_id)
