"""Uploads: presigned forms to send an image straight to S3 with."""

from __future__ import annotations

from datetime import timedelta

from imagejobs.caller import Caller
from imagejobs.errors import TooLargeError
from imagejobs.ids import new_id
from imagejobs.settings import get_settings
from imagejobs.spec.documents import UploadForm
from imagejobs.spec.requests import UploadRequest
from imagejobs.store import repository, storage
from imagejobs.store.records import UploadRecord, now


def new_upload(
    caller: Caller,
    request: UploadRequest,
    path: str,
    waiting_job_id: str | None = None,
    upload_id: str | None = None,
) -> UploadForm:
    """A form for a new upload (`upload_id`'s, when an earlier attempt of the request may have made it)."""
    settings = get_settings()
    limit = settings.limits(caller.tier).upload_max_bytes
    if request.size_bytes is not None and request.size_bytes > limit:
        raise TooLargeError(
            f"uploads are limited to {limit} bytes",
            details=[{"path": f"{path}size_bytes", "message": f"at most {limit}"}],
        )
    created = now()
    upload_id = upload_id or new_id("upl")
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
    upload = repository.put_new_upload(upload)
    url, fields, expires_at = storage.presigned_post(upload)
    return UploadForm(upload_id=upload.id, url=url, fields=fields, expires_at=expires_at, max_bytes=upload.max_bytes)


def create_upload(caller: Caller, request: UploadRequest) -> UploadForm:
    return new_upload(caller, request, path="")
