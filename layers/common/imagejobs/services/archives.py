"""Archives: a ZIP of a job's outputs, or of a batch's succeeded jobs' outputs (one folder per job),
built in S3 by the archive builder. The API asks for one (`requested`) and answers its status; the
builder streams each output from S3 into the ZIP and the ZIP into a multipart upload, so its memory
is a few parts whatever the archive's size. Entries are ZIP64 (sizes unknown until written), so
no size or count of entries is too large for the format.

An archive expires with the earliest-expiring job it holds: its record's TTL is that job's, and
its object goes with the record (the expire function; the bucket's lifecycle is the backstop).
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Protocol

from imagejobs.deadline import Deadline
from imagejobs.errors import ConflictError, JobError, NotFoundError, SourceNotFoundError
from imagejobs.observability import logger
from imagejobs.settings import get_settings
from imagejobs.spec.archives import ArchiveDocument
from imagejobs.store import queue, repository, storage
from imagejobs.store.records import ArchiveKind, ArchiveRecord, BatchRecord, JobRecord, now


class Writable(Protocol):
    def write(self, data: bytes, /) -> int: ...
    def flush(self) -> None: ...


_ID = re.compile(r"^(job|bat)_[0-9A-Z]{26}$")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def _not_found(kind: ArchiveKind, subject_id: str, what: str = "") -> NotFoundError:
    field = f"{kind}_id"
    return NotFoundError(f"no {what}{kind} {subject_id}", details=[{"path": field, "message": f"no such {kind}"}])


def _check_id(kind: ArchiveKind, subject_id: str) -> None:
    """An id that cannot be one of ours is simply not found (and never reaches a table key)."""
    if not _ID.match(subject_id) or subject_id[:3] != kind[:3]:
        raise _not_found(kind, subject_id)


def request_job_archive(tenant_id: str, job_id: str) -> ArchiveDocument:
    """Asks for a ZIP of a succeeded job's outputs; an archive already asked for is answered as it is."""
    _check_id("job", job_id)
    job = repository.get_job(tenant_id, job_id)
    if job is None:
        raise _not_found("job", job_id)
    if job.status != "succeeded":
        raise ConflictError(
            f"job {job_id} is {job.status}; only a succeeded job's outputs can be archived",
            details=[{"path": "job_id", "message": f"the job is {job.status}, not succeeded"}],
        )
    return _request(tenant_id, job_id, "job", job.expires_at)


def request_batch_archive(tenant_id: str, batch_id: str) -> ArchiveDocument:
    """Asks for a ZIP of a completed batch's succeeded jobs' outputs, one folder per job."""
    _check_id("batch", batch_id)
    batch = repository.get_batch(tenant_id, batch_id)
    if batch is None:
        raise _not_found("batch", batch_id)
    if batch.completed_at is None:
        raise ConflictError(
            f"batch {batch_id} has {batch.ended} of {batch.total} jobs ended; it can be archived once all have",
            details=[{"path": "batch_id", "message": "the batch is processing, not completed"}],
        )
    if batch.kind == "prefix":  # its jobs all expire with it
        if batch.succeeded_count == 0:
            raise ConflictError(
                f"batch {batch_id} has no succeeded job to archive",
                details=[{"path": "batch_id", "message": "no job of the batch succeeded"}],
            )
        return _request(tenant_id, batch_id, "batch", batch.expires_at)
    jobs = repository.get_jobs(tenant_id, batch.succeeded)
    if not jobs:
        raise ConflictError(
            f"batch {batch_id} has no succeeded job to archive",
            details=[{"path": "batch_id", "message": "no job of the batch succeeded"}],
        )
    return _request(tenant_id, batch_id, "batch", min(job.expires_at for job in jobs))


def _request(tenant_id: str, subject_id: str, kind: ArchiveKind, expires_at: datetime) -> ArchiveDocument:
    archive = ArchiveRecord(tenant_id=tenant_id, id=subject_id, kind=kind, created_at=now(), expires_at=expires_at)
    if repository.put_new_archive(archive):
        queue.send_archive(tenant_id, subject_id)
        return archive_document(archive)
    existing = repository.get_archive(tenant_id, subject_id)
    if existing is None:  # it expired or failed between the two calls: ask once more
        return _request(tenant_id, subject_id, kind, expires_at)
    return archive_document(existing)


def get_archive(tenant_id: str, kind: ArchiveKind, subject_id: str) -> ArchiveDocument:
    _check_id(kind, subject_id)
    archive = repository.get_archive(tenant_id, subject_id)
    if archive is None or archive.kind != kind:
        raise _not_found(kind, subject_id, "archive of ")
    return archive_document(archive)


def archive_document(archive: ArchiveRecord) -> ArchiveDocument:
    url, url_expires_at = (
        storage.presigned_get(storage.archive_key(archive.tenant_id, archive.id), archive.expires_at)
        if archive.status == "ready"
        else (None, None)
    )
    return ArchiveDocument.model_validate(
        {**archive.model_dump(exclude={"tenant_id", "version"}), "url": url, "url_expires_at": url_expires_at}
    )


# ---- the builder ---------------------------------------------------------------------------------


def build(body: str, deadline: Deadline, *, final: bool) -> None:
    """Builds the archive a message of the archives queue names. A job or output that has gone, or
    the time running out, fails the archive; any other error is retried, and fails it on the last
    delivery, so no archive is left `building`."""
    message = queue.ArchiveMessage.model_validate_json(body)
    archive = repository.get_archive(message.tenant_id, message.archive_id)
    if archive is None or archive.finished:
        logger.info("archive gone or already built", extra={"archive_id": message.archive_id})
        return
    archive = repository.save_archive(archive.building())
    try:
        entries, size = _write(archive, deadline)
    except JobError as error:
        repository.save_archive(archive.failed(error.code, error.message))
        logger.info("archive failed", extra={"archive_id": archive.id, "code": error.code})
        return
    except BaseException:
        # Retried by SQS (the error is logged by the batch processor); the last delivery records
        # the failure first, so the archive never stays `building`.
        if final:
            repository.save_archive(archive.failed("internal", "the archive could not be built; ask for it again"))
        raise
    repository.save_archive(archive.ready(entries, size))
    logger.info("archive ready", extra={"archive_id": archive.id, "entries": entries, "bytes": size})


def _write(archive: ArchiveRecord, deadline: Deadline) -> tuple[int, int]:
    """Streams every entry into the archive's object; how many entries and bytes it has."""
    entries = _entries(archive)
    key = storage.archive_key(archive.tenant_id, archive.id)
    with storage.MultipartUpload(key, "application/zip", get_settings().archive_part_bytes) as sink:
        contents = ((name, storage.read_chunks(output_key)) for name, output_key in entries)
        write_zip(sink, contents, archive.created_at, deadline)
    return len(entries), sink.bytes


def write_zip(
    sink: Writable, entries: Iterable[tuple[str, Iterable[bytes]]], stamp: datetime, deadline: Deadline
) -> None:
    """A ZIP of these entries written to `sink` as they come: the sink needs no seek (each entry's
    sizes and CRC follow its data), and every entry is ZIP64, as are the directory's counts when
    there are more than 65,535 entries, so no size or number of entries is too many."""
    date_time = stamp.timetuple()[:6]
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_STORED) as zip_file:  # type: ignore[call-overload]  # no close()
        for name, chunks in entries:
            deadline.check(name)
            info = zipfile.ZipInfo(name, date_time=date_time)
            with zip_file.open(info, "w", force_zip64=True) as entry:  # images are compressed already: stored
                for chunk in chunks:
                    deadline.check(name)
                    entry.write(chunk)


def _entries(archive: ArchiveRecord) -> list[tuple[str, str]]:
    """(name in the ZIP, storage key) of every output it holds, in the job's (and the batch's) order."""
    if archive.kind == "job":
        job = repository.get_job(archive.tenant_id, archive.id)
        if job is None:
            raise SourceNotFoundError(f"job {archive.id} has expired or was deleted")
        return job_entries(job, folder=None)
    batch = repository.get_batch(archive.tenant_id, archive.id)
    if batch is None:
        raise SourceNotFoundError(f"batch {archive.id} has expired")
    if batch.kind == "prefix":
        entries = list(_prefix_batch_entries(batch))
    else:
        jobs = {job.id: job for job in repository.get_jobs(archive.tenant_id, batch.succeeded)}
        entries = [entry for job_id in batch.job_ids if job_id in jobs for entry in job_entries(jobs[job_id], job_id)]
    if not entries:
        raise SourceNotFoundError(f"the jobs of batch {archive.id} have expired or were deleted")
    return entries


def _prefix_batch_entries(batch: BatchRecord) -> Iterator[tuple[str, str]]:
    """A prefix batch's succeeded jobs' entries, in job id order, a page of jobs at a time."""
    after: str | None = None
    while True:
        ids, after = repository.batch_jobs_with_status(batch.tenant_id, batch.id, "succeeded", limit=1000, after=after)
        jobs = {job.id: job for job in repository.get_jobs(batch.tenant_id, ids)}
        yield from (entry for job_id in ids if job_id in jobs for entry in job_entries(jobs[job_id], job_id))
        if after is None:
            return


def job_entries(job: JobRecord, folder: str | None) -> list[tuple[str, str]]:
    prefix = f"{_safe(folder)}/" if folder else ""
    return [
        (f"{prefix}{_safe(output.name)}.{_safe(output.key.rsplit('.', 1)[-1])}", output.key) for output in job.outputs
    ]


def _safe(part: str) -> str:
    """A name part as a ZIP entry may carry it: no separator, no parent, nothing but [A-Za-z0-9_.-]."""
    return _UNSAFE.sub("_", part).lstrip(".") or "_"
