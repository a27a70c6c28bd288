"""What the API does with uploads and jobs."""

from __future__ import annotations

import base64
import json
import re
from datetime import timedelta
from typing import Any

from imagejobs import net
from imagejobs.errors import (
    ConflictError,
    MalformedRequestError,
    NotFoundError,
    RequestValidationError,
    SourceNotFoundError,
    TooLargeError,
)
from imagejobs.ids import new_id
from imagejobs.services import idempotency
from imagejobs.services.auth import Caller
from imagejobs.settings import get_settings
from imagejobs.spec import presets
from imagejobs.spec.documents import (
    CallbackDocument,
    CreatedJobDocument,
    ErrorDocument,
    JobDocument,
    JobList,
    OutputDocument,
    SourceDocument,
    UploadForm,
)
from imagejobs.spec.requests import JobRequest, UploadRequest
from imagejobs.store import repository, storage
from imagejobs.store.aws import client
from imagejobs.store.records import JobRecord, StoredCallback, StoredSource, UploadRecord, now

METADATA_MAX_BYTES = 2048
JOB_ID = re.compile(r"job_[0-9A-Z]{26}")


def _new_upload(caller: Caller, request: UploadRequest, path: str, waiting_job_id: str | None = None) -> UploadForm:
    settings = get_settings()
    limit = settings.limits(caller.tier).upload_max_bytes
    if request.size_bytes is not None and request.size_bytes > limit:
        raise TooLargeError(
            f"uploads are limited to {limit} bytes",
            details=[{"path": f"{path}size_bytes", "message": f"at most {limit}"}],
        )
    created = now()
    upload_id = new_id("upl")
    upload = UploadRecord(
        tenant_id=caller.tenant_id,
        id=upload_id,
        key=storage.upload_key(caller.tenant_id, upload_id),
        filename=request.filename,
        content_type=request.content_type,
        max_bytes=request.size_bytes or limit,
        created_at=created,
        expires_at=created + timedelta(seconds=settings.upload_ttl_seconds),
        waiting_job_ids=[waiting_job_id] if waiting_job_id else [],
    )
    repository.put_new_upload(upload)
    url, fields, expires_at = storage.presigned_post(upload)
    return UploadForm(upload_id=upload.id, url=url, fields=fields, expires_at=expires_at, max_bytes=upload.max_bytes)


def create_upload(caller: Caller, request: UploadRequest) -> UploadForm:
    return _new_upload(caller, request, path="")


def check_url(url: str | None, path: str) -> None:
    """The URL's form, now (its addresses are checked when it is used: they can change)."""
    if url is None:
        return
    try:
        net.parse(url, allow_loopback=get_settings().allow_loopback_urls)
    except net.UnsafeUrlError as error:
        raise RequestValidationError(
            f"{path} is not allowed: {error.message}", details=[{"path": path, "message": error.message}]
        ) from error


def check_metadata(metadata: dict[str, Any]) -> None:
    if len(json.dumps(metadata, separators=(",", ":")).encode()) > METADATA_MAX_BYTES:
        raise RequestValidationError(
            "metadata is too large",
            details=[{"path": "metadata", "message": f"at most {METADATA_MAX_BYTES} bytes as JSON"}],
        )


def _check_request(caller: Caller, request: JobRequest) -> None:
    check_url(request.source.url, "source.url")
    check_url(request.callback_url, "callback_url")
    check_metadata(request.metadata)
    limits = get_settings().limits(caller.tier)
    tier = f"{caller.tier} callers"
    if len(request.outputs) > limits.max_outputs:
        raise RequestValidationError(
            f"outputs: at most {limits.max_outputs} for {tier}",
            details=[{"path": "outputs", "message": f"at most {limits.max_outputs} outputs for {tier}"}],
        )
    for index, output in enumerate(request.outputs):
        if len(output.operations) > limits.max_operations:
            path = f"outputs[{index}].operations"
            raise RequestValidationError(
                f"{path}: at most {limits.max_operations} for {tier}",
                details=[{"path": path, "message": f"at most {limits.max_operations} operations for {tier}"}],
            )
    if request.callback_url is not None and caller.tier == "anonymous":
        raise RequestValidationError(
            "callback_url: callbacks are signed with a tenant's secret and need an API key",
            details=[{"path": "callback_url", "message": "needs an API key"}],
        )


def _with_outputs(request: JobRequest) -> JobRequest:
    """The request with its outputs: as given, or its preset's, stored so the job runs what it was created with."""
    if request.preset is None:
        if not request.outputs:
            raise RequestValidationError(
                "outputs: give 1 to 10 outputs, or a preset",
                details=[{"path": "outputs", "message": "give 1 to 10 outputs, or a preset instead"}],
            )
        return request
    if request.outputs:
        raise RequestValidationError(
            "preset: give a preset or outputs, not both",
            details=[{"path": "preset", "message": "give a preset or outputs, not both"}],
        )
    return request.model_copy(update={"outputs": presets.expand(request.preset)})


def create_job(caller: Caller, request: JobRequest, idempotency_key: str | None = None) -> CreatedJobDocument:
    """Records the job and starts it now, or when its upload lands; once per Idempotency-Key."""
    return idempotency.once(
        "jobs",
        caller.tenant_id,
        idempotency_key,
        request,
        make=lambda: create_prepared(caller, *prepare(caller, request)),
        answer=CreatedJobDocument,
    )


def prepare(caller: Caller, request: JobRequest) -> tuple[JobRequest, UploadRecord | None]:
    """The request checked against the caller's tier and with its outputs (a preset expanded), and
    its earlier upload if it names one."""
    request = _with_outputs(request)
    _check_request(caller, request)
    upload_id = request.source.upload_id
    upload = repository.get_upload(caller.tenant_id, upload_id) if upload_id is not None else None
    if upload_id is not None and upload is None:
        raise SourceNotFoundError(
            f"no upload {upload_id}", details=[{"path": "source.upload_id", "message": "no such upload"}]
        )
    return request, upload


def create_prepared(
    caller: Caller,
    request: JobRequest,
    upload: UploadRecord | None,
    *,
    batch_id: str | None = None,
    job_id: str | None = None,
) -> CreatedJobDocument:
    """Records a prepared job and starts it now, or when its upload lands."""
    created = now()
    job_id = job_id or new_id("job")
    upload_id = request.source.upload_id
    # A URL is there to fetch: the job can start now; so can one whose upload has landed.
    landed = request.source.url is not None or (upload is not None and upload.received_at is not None)
    tenant_id = caller.tenant_id
    job = JobRecord(
        tenant_id=tenant_id,
        tier=caller.tier,
        id=job_id,
        status="queued" if landed else "awaiting_upload",
        request=request,
        created_at=created,
        expires_at=created + ttl(request),
        source=StoredSource(upload_id=upload_id, url=request.source.url),
        callback=StoredCallback(url=request.callback_url) if request.callback_url else None,
        batch_id=batch_id,
    )
    form = None
    if request.source.upload is not None:
        form = _new_upload(caller, request.source.upload, path="source.upload.", waiting_job_id=job_id)
        job.source.upload_id = form.upload_id
        repository.put_new_job(job)
    else:
        repository.put_new_job(job)
        if (
            upload_id
            and job.status == "awaiting_upload"
            and not repository.wait_for_upload(tenant_id, upload_id, job_id)
        ):
            job = repository.save_job(job.model_copy(update={"status": "queued"}))
        if job.status == "queued":
            enqueue(job)
    return CreatedJobDocument(**document(job).model_dump(), upload=form)


def ttl(request: JobRequest) -> timedelta:
    return timedelta(seconds=request.ttl_seconds)


def enqueue(job: JobRecord) -> None:
    message = {"type": "job", "tenant_id": job.tenant_id, "job_id": job.id}
    client("sqs").send_message(QueueUrl=get_settings().jobs_queue_url, MessageBody=json.dumps(message))


def get_job(tenant_id: str, job_id: str) -> JobDocument:
    job = repository.get_job(tenant_id, job_id)
    if job is None:
        raise NotFoundError(f"no job {job_id}")
    return document(job)


def list_jobs(tenant_id: str, status: str | None, limit: int, cursor: str | None) -> JobList:
    jobs, last = repository.list_jobs(tenant_id, status=status, limit=limit, after=_job_id_of(cursor))
    return JobList(jobs=[document(job) for job in jobs], next_cursor=_cursor(last) if last else None)


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
    retried = repository.save_job(
        job.model_copy(
            update={
                "status": "queued",
                "error": None,
                "started_at": None,
                "finished_at": None,
                "notified": False,
                "callback": job.callback.model_copy(update={"status": "pending", "attempts": 0})
                if job.callback
                else None,
            }
        )
    )
    enqueue(retried)
    return document(retried)


def delete_job(tenant_id: str, job_id: str) -> None:
    """Removes the job and its stored images now."""
    if repository.get_job(tenant_id, job_id) is None:
        raise NotFoundError(f"no job {job_id}")
    storage.delete_outputs(tenant_id, job_id)
    repository.delete_job(tenant_id, job_id)


def document(job: JobRecord) -> JobDocument:
    """The job as clients see it, with fresh download links for finished outputs."""
    outputs = []
    for output in job.outputs:
        url, url_expires_at = storage.presigned_get(output.key, not_after=job.expires_at)
        shown = output.model_dump(exclude={"key", "content_type"})
        outputs.append(OutputDocument(**shown, url=url, url_expires_at=url_expires_at))
    return JobDocument(
        id=job.id,
        status=job.status,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        expires_at=job.expires_at,
        source=SourceDocument(**job.source.model_dump()),
        outputs=outputs,
        error=ErrorDocument(**job.error.model_dump()) if job.error else None,
        attempts=job.attempts,
        metadata=job.request.metadata,
        callback=CallbackDocument(**job.callback.model_dump()) if job.callback else None,
        srcset=presets.srcset(job.request.preset, outputs),
    )
