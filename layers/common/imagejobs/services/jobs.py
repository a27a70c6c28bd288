"""What the API does with a tenant's existing jobs: read, list, retry, delete."""

from __future__ import annotations

import base64
import re

from imagejobs.errors import ConflictError, MalformedRequestError, NotFoundError
from imagejobs.services.views import job_document
from imagejobs.spec.documents import JobDocument, JobList
from imagejobs.store import queue, repository, storage

JOB_ID = re.compile(r"job_[0-9A-Z]{26}")


def get_job(tenant_id: str, job_id: str) -> JobDocument:
    job = repository.get_job(tenant_id, job_id)
    if job is None:
        raise NotFoundError(f"no job {job_id}")
    return job_document(job)


def list_jobs(tenant_id: str, status: str | None, limit: int, cursor: str | None) -> JobList:
    jobs, last = repository.list_jobs(tenant_id, status=status, limit=limit, after=_job_id_of(cursor))
    return JobList(jobs=[job_document(job) for job in jobs], next_cursor=_cursor(last) if last else None)


def _cursor(job_id: str) -> str:
    return base64.urlsafe_b64encode(job_id.encode()).decode().rstrip("=")


def _job_id_of(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        job_id = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError) as error:
        raise MalformedRequestError(
            "cursor is not one this API gave", details=[{"path": "cursor", "message": "not valid"}]
        ) from error
    if not JOB_ID.fullmatch(job_id):
        raise MalformedRequestError(
            "cursor is not one this API gave", details=[{"path": "cursor", "message": "not valid"}]
        )
    return job_id


def retry_job(tenant_id: str, job_id: str) -> JobDocument:
    """Runs a failed job again, from its source, with its callback delivered anew."""
    job = repository.get_job(tenant_id, job_id)
    if job is None:
        raise NotFoundError(f"no job {job_id}")
    if job.status != "failed":
        raise ConflictError(f"job {job_id} is {job.status}; only a failed job can be retried")
    retried = repository.save_job(job.retried())
    queue.send_job(retried.tenant_id, retried.id)
    return job_document(retried)


def delete_job(tenant_id: str, job_id: str) -> None:
    """Removes the job and its stored images now."""
    if repository.get_job(tenant_id, job_id) is None:
        raise NotFoundError(f"no job {job_id}")
    storage.delete_outputs(tenant_id, job_id)
    repository.delete_job(tenant_id, job_id)
