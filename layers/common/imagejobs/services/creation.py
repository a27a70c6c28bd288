"""Making jobs: a request checked against the caller's tier, its preset expanded, recorded, and
started now or when its upload lands (once per Idempotency-Key)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from imagejobs import net
from imagejobs.caller import Caller
from imagejobs.errors import RequestValidationError, SourceNotFoundError
from imagejobs.ids import new_id
from imagejobs.services import destinations, idempotency
from imagejobs.services.uploads import new_upload
from imagejobs.services.views import job_document
from imagejobs.settings import get_settings
from imagejobs.spec import presets
from imagejobs.spec.documents import CreatedJobDocument, S3Object, SourceDocument
from imagejobs.spec.geometry import MAX_RENDERED_OUTPUTS, selected_pages, work_units
from imagejobs.spec.requests import JobRequest
from imagejobs.store import queue, repository
from imagejobs.store.records import JobRecord, StoredRequest, UploadRecord, new_callback, now

METADATA_MAX_BYTES = 2048


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
    _check_work(request)


def _check_work(request: JobRequest) -> None:
    """The job's work as a whole, where the request alone tells it (the pages it selects are known):
    more outputs than a job may make, or more work units than MaxWorkUnits, is refused now rather
    than failed later (`too_large`, once the source's header tells the rest)."""
    pages = selected_pages(request.source.pages)
    if pages is None:
        return
    made = len(request.outputs) * pages
    if made > MAX_RENDERED_OUTPUTS:
        message = f"{len(request.outputs)} outputs of {pages} pages make {made} outputs, above {MAX_RENDERED_OUTPUTS}"
        raise RequestValidationError(f"source.pages: {message}", details=[{"path": "source.pages", "message": message}])
    units, limit = work_units(request.outputs, [None] * pages), get_settings().max_work_units
    if units > limit:
        message = f"the outputs encode at least {units} pixels, above the limit of {limit} work units"
        raise RequestValidationError(f"outputs: {message}", details=[{"path": "outputs", "message": message}])


def _with_outputs(request: JobRequest) -> JobRequest:
    """The request with its outputs: as given, or its preset's, stored so the job runs what it was created with."""
    if request.preset is None:
        if not request.outputs:
            raise RequestValidationError(
                "outputs: give 1 to 10 outputs, or a preset",
                details=[{"path": "outputs", "message": "give 1 to 10 outputs, or a preset instead"}],
            )
        return request
    if "outputs" in request.model_fields_set:  # even `"outputs": []`: one or the other, not both
        raise RequestValidationError(
            "preset: give a preset or outputs, not both",
            details=[{"path": "preset", "message": "give a preset or outputs, not both"}],
        )
    return request.model_copy(update={"outputs": presets.expand(request.preset)})


def create_job(caller: Caller, request: JobRequest, idempotency_key: str | None = None) -> CreatedJobDocument:
    """Records the job and starts it now, or when its upload lands; once per Idempotency-Key."""

    def make() -> CreatedJobDocument:
        prepared = prepare(caller, request)
        job_id = idempotency.claimed_id("jobs", caller.tenant_id, idempotency_key, request, "job")
        return create_prepared(caller, *prepared, job_id=job_id)

    return idempotency.once("jobs", caller.tenant_id, idempotency_key, request, make=make, answer=CreatedJobDocument)


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
    destinations.check_request(caller.tenant_id, request, source_name(request, upload))
    return request, upload


def source_name(request: JobRequest, upload: UploadRecord | None) -> str | None:
    """What `{source_key}` and its kin are made of: an object's key, or an upload's file name."""
    source = request.source
    if source.s3 is not None:
        return source.s3.key
    if source.upload is not None:
        return source.upload.filename
    return upload.filename if upload is not None else None


def create_prepared(
    caller: Caller,
    request: JobRequest,
    upload: UploadRecord | None,
    *,
    batch_id: str | None = None,
    job_id: str | None = None,
) -> CreatedJobDocument:
    """Records a prepared job and starts it now, or when its upload lands. Made again under the same
    `job_id` (an earlier attempt of the request failed halfway), it finishes what that one began."""
    job_id = job_id or new_id("job")
    upload_id = request.source.upload_id
    # A URL or an object is there to fetch: the job can start now; so can one whose upload has landed.
    source = request.source
    landed = source.url is not None or source.s3 is not None or (upload is not None and upload.received_at is not None)
    tenant_id = caller.tenant_id
    job = new_job(caller, request, job_id, batch_id=batch_id, landed=landed)
    form = None
    if request.source.upload is not None:
        form = new_upload(
            caller,
            request.source.upload,
            path="source.upload.",
            waiting_job_id=job_id,
            upload_id=f"upl_{job_id.removeprefix('job_')}",  # the same on every attempt of the request
        )
        job.source.upload_id = form.upload_id
        job = repository.put_new_job(job)
    else:
        job = repository.put_new_job(job)
        if (
            upload_id
            and job.status == "awaiting_upload"
            and not repository.wait_for_upload(tenant_id, upload_id, job_id)
        ):
            # landed meanwhile: queue it, reading it again should another writer have come first
            job = repository.update_job(tenant_id, job_id, _queued) or job
        if job.status == "queued":
            queue.send_job(job.tenant_id, job.id)
    return CreatedJobDocument(**dict(job_document(job)), upload=form)


def _queued(job: JobRecord) -> JobRecord:
    return job.queued() if job.status == "awaiting_upload" else job


def new_job(caller: Caller, request: JobRequest, job_id: str, *, batch_id: str | None, landed: bool) -> JobRecord:
    """The record of a new job of a prepared request (nothing stored yet)."""
    created, source = now(), request.source
    return JobRecord(
        tenant_id=caller.tenant_id,
        tier=caller.tier,
        id=job_id,
        status="queued" if landed else "awaiting_upload",
        request=StoredRequest.model_validate(request.model_dump()),
        created_at=created,
        expires_at=created + ttl(request),
        source=SourceDocument(
            upload_id=source.upload_id, url=source.url, s3=S3Object(**source.s3.model_dump()) if source.s3 else None
        ),
        callback=new_callback(request.callback_url) if request.callback_url else None,
        batch_id=batch_id,
    )


def ttl(request: JobRequest) -> timedelta:
    return timedelta(seconds=request.ttl_seconds)
