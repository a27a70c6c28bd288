"""Records as clients see them: the job and batch documents of the API, and the events and callbacks
that carry the same documents (with the tenant's id). Storage keys never leave this module."""

from __future__ import annotations

from collections import Counter

from imagejobs.services import links
from imagejobs.spec import presets
from imagejobs.spec.documents import BatchCounts, BatchDocument, BatchJob, JobDocument, JobState, OutputDocument
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


def batch_document(batch: BatchRecord) -> BatchDocument:
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
        callback=batch.callback,
    )


def batch_event(batch: BatchRecord) -> BatchEvent:
    return BatchEvent(**dict(batch_document(batch)), tenant_id=batch.tenant_id)
