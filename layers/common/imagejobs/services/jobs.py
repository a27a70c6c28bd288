"""What the API does with a tenant's existing jobs: read, list, retry, delete."""

from __future__ import annotations

import base64
import json
import re
from typing import get_args

from imagejobs.errors import ConflictError, MalformedRequestError, NotFoundError
from imagejobs.services import endings, waiting
from imagejobs.services.views import job_document
from imagejobs.spec.documents import JobDocument, JobList, JobStatus
from imagejobs.store import queue, repository, storage
from imagejobs.store.records import JobRecord

JOB_ID = re.compile(r"job_[0-9A-Z]{26}")


def get_job(tenant_id: str, job_id: str, wait_seconds: float = 0) -> JobDocument:
    """The job, as soon as it has ended or when `wait_seconds` have passed (whichever is first)."""
    job = waiting.wait_for(
        lambda: repository.get_job(tenant_id, job_id), lambda job: job is None or job.finished, wait_seconds
    )
    if job is None:
        raise NotFoundError(f"no job {job_id}")
    return job_document(job)


# Lambda answers at most 6 MB: a page of jobs stops short of this, whatever their outputs.
PAGE_BUDGET_BYTES = 4_000_000


def list_jobs(tenant_id: str, status: str | None, limit: int, cursor: str | None) -> JobList:
    """A page of the tenant's jobs, newest first. The cursor carries the page's filter: a next page
    keeps the status it was asked for (asking another with the same cursor is a 400)."""
    after, filtered = _position(cursor)
    if cursor is not None and status is not None and status != filtered:
        raise MalformedRequestError(
            "this cursor continues another listing",
            details=[{"path": "status", "message": f"the cursor's is {filtered}"}],
        )
    status = filtered if cursor is not None else status
    jobs, last = repository.list_jobs(tenant_id, status=status, limit=limit, after=after)
    documents: list[JobDocument] = []
    size = 0
    for job in jobs:
        document = job_document(job)
        size += len(document.model_dump_json())
        if documents and size > PAGE_BUDGET_BYTES:
            last = documents[-1].id
            break
        documents.append(document)
    return JobList(jobs=documents, next_cursor=_cursor(last, status) if last else None)


def _cursor(job_id: str, status: str | None) -> str:
    return base64.urlsafe_b64encode(json.dumps([job_id, status]).encode()).decode().rstrip("=")


def _position(cursor: str | None) -> tuple[str | None, str | None]:
    """The job id a cursor continues after, and the status it filters by."""
    if cursor is None:
        return None, None
    invalid = MalformedRequestError(
        "cursor is not one this API gave", details=[{"path": "cursor", "message": "not valid"}]
    )
    try:
        job_id, status = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError) as error:
        raise invalid from error
    if not isinstance(job_id, str) or not JOB_ID.fullmatch(job_id) or status not in (None, *get_args(JobStatus)):
        raise invalid
    return job_id, status


def retry_job(tenant_id: str, job_id: str) -> JobDocument:
    """Runs a failed job again, from its source, with its callback delivered anew."""
    job = repository.get_job(tenant_id, job_id)
    if job is None:
        raise NotFoundError(f"no job {job_id}")
    if job.status != "failed":
        raise ConflictError(f"job {job_id} is {job.status}; only a failed job can be retried")
    retried = retry(job)
    queue.send_job(retried.tenant_id, retried.id)
    return job_document(retried)


def retry(job: JobRecord) -> JobRecord:
    """Saves the failed job as queued again (not sent yet). A job of a batch leaves its batch's failed
    ones and reopens the batch, which completes again once the job has ended."""
    retried = repository.save_job(job.retried())
    if job.batch_id is not None:
        repository.uncount_batch_job(job)
    return retried


def delete_job(tenant_id: str, job_id: str) -> None:
    """Removes the job and its stored images now. A job of a batch deleted before it ended counts
    as failed in its batch (which then completes without it)."""
    if repository.get_job(tenant_id, job_id) is None:
        raise NotFoundError(f"no job {job_id}")
    storage.delete_outputs(tenant_id, job_id)
    removed = repository.delete_job(tenant_id, job_id)
    if removed is not None:
        endings.deleted(removed)
