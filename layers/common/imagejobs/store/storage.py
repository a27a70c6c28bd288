"""Image bytes in S3: presigned forms for uploads, presigned links for results.

Uploads live at `uploads/<tenant>/<upload>`, outputs at `outputs/<tenant>/<job>/<name>.<ext>`,
archives at `archives/<tenant>/<job or batch>.zip`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Self
from urllib.parse import unquote_plus

from botocore.exceptions import ClientError

from imagejobs.errors import SourceNotFoundError, TooLargeError
from imagejobs.settings import get_settings
from imagejobs.store.aws import client
from imagejobs.store.records import UploadRecord, now

UPLOAD_PREFIX = "uploads/"
OUTPUT_PREFIX = "outputs/"
ARCHIVE_PREFIX = "archives/"


def upload_key(tenant_id: str, upload_id: str) -> str:
    return f"{UPLOAD_PREFIX}{tenant_id}/{upload_id}"


def parse_upload_key(key: str) -> tuple[str, str] | None:
    """(tenant_id, upload_id) of an upload object's key, or None for any other key."""
    parts = key.split("/")
    if len(parts) != 3 or f"{parts[0]}/" != UPLOAD_PREFIX or not all(parts[1:]):
        return None
    return parts[1], parts[2]


def output_key(tenant_id: str, job_id: str, name: str, extension: str) -> str:
    return f"{OUTPUT_PREFIX}{tenant_id}/{job_id}/{name}.{extension}"


def archive_key(tenant_id: str, archive_id: str) -> str:
    return f"{ARCHIVE_PREFIX}{tenant_id}/{archive_id}.zip"


def _s3() -> Any:
    return client("s3")


def presigned_post(upload: UploadRecord) -> tuple[str, dict[str, str], datetime]:
    """A form that accepts exactly this upload: its key, its content type, at most its size."""
    seconds = get_settings().upload_url_seconds
    form = _s3().generate_presigned_post(
        Bucket=get_settings().bucket_name,
        Key=upload.key,
        Fields={"Content-Type": upload.content_type},
        Conditions=[
            {"Content-Type": upload.content_type},
            ["content-length-range", 1, upload.max_bytes],
        ],
        ExpiresIn=seconds,
    )
    return form["url"], form["fields"], now() + timedelta(seconds=seconds)


def read_upload(upload: UploadRecord) -> bytes:
    """The upload's bytes, refused when larger than its limit (S3 emulators don't enforce the form)."""
    try:
        response = _s3().get_object(Bucket=get_settings().bucket_name, Key=upload.key)
    except ClientError as error:
        if error.response["Error"]["Code"] in ("NoSuchKey", "404"):
            raise SourceNotFoundError(f"upload {upload.id} has no image yet") from error
        raise
    if response["ContentLength"] > upload.max_bytes:
        response["Body"].close()
        raise TooLargeError(f"the upload is {response['ContentLength']} bytes; the limit is {upload.max_bytes}")
    data: bytes = response["Body"].read()
    return data


def put_output(key: str, data: bytes, content_type: str, *, not_after: datetime) -> None:
    """Stores an output, cacheable (by browsers, by the CDN) until `not_after`, its job's expiry: an
    output's key is its job's own, so its bytes never change under it. The end is a date (`Expires`)
    rather than a `max-age`, which would count from each download and so outlive the job."""
    _s3().put_object(
        Bucket=get_settings().bucket_name,
        Key=key,
        Body=data,
        ContentType=content_type,
        CacheControl="public, immutable",
        Expires=not_after,
    )


def presigned_get(key: str, not_after: datetime, seconds: int | None = None) -> tuple[str, datetime]:
    """A download link that lives `seconds` (an hour by default) and never outlives `not_after` (the
    job's expiry)."""
    wanted = seconds or get_settings().download_url_seconds
    lifetime = max(min(wanted, int((not_after - now()).total_seconds())), 1)
    url = _s3().generate_presigned_url(
        "get_object", Params={"Bucket": get_settings().bucket_name, "Key": key}, ExpiresIn=lifetime
    )
    return url, now() + timedelta(seconds=lifetime)


def cdn_url(key: str) -> str | None:
    """An output's address on the CDN (EnableCdn), whose origin is the outputs' prefix; None without one."""
    base = get_settings().cdn_url
    return f"{base.rstrip('/')}/{key.removeprefix(OUTPUT_PREFIX)}" if base and key.startswith(OUTPUT_PREFIX) else None


def unquote_key(key: str) -> str:
    """S3 event notifications carry object keys quote_plus-encoded."""
    return unquote_plus(key)


def delete_outputs(tenant_id: str, job_id: str) -> int:
    """Deletes every stored output of the job; how many there were."""
    bucket = get_settings().bucket_name
    deleted = 0
    for page in (
        _s3().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{OUTPUT_PREFIX}{tenant_id}/{job_id}/")
    ):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            _s3().delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
            deleted += len(keys)
    return deleted


def delete_upload(tenant_id: str, upload_id: str) -> int:
    _s3().delete_object(Bucket=get_settings().bucket_name, Key=upload_key(tenant_id, upload_id))
    return 1


def delete_archive(tenant_id: str, archive_id: str) -> int:
    _s3().delete_object(Bucket=get_settings().bucket_name, Key=archive_key(tenant_id, archive_id))
    return 1


def read_chunks(key: str, chunk_bytes: int = 2**20) -> Iterator[bytes]:
    """The object's bytes, `chunk_bytes` at a time (never the whole object in memory)."""
    try:
        response = _s3().get_object(Bucket=get_settings().bucket_name, Key=key)
    except ClientError as error:
        if error.response["Error"]["Code"] in ("NoSuchKey", "404"):
            raise SourceNotFoundError(f"{key.rsplit('/', 1)[-1]} is no longer stored") from error
        raise
    body = response["Body"]
    try:
        yield from body.iter_chunks(chunk_bytes)
    finally:
        body.close()


class MultipartUpload:
    """A write-only, unseekable file that sends what is written to S3 as a multipart upload, in
    parts of at least `part_bytes` (S3 wants 5 MiB at least, but for the last): memory stays a few
    parts, whatever the object's size. Completed when the `with` block ends; when it
    raises, left incomplete (no object) for the bucket's abort-incomplete-uploads rule."""

    def __init__(self, key: str, content_type: str, part_bytes: int) -> None:
        self.key = key
        self.bytes = 0
        self._content_type = content_type
        self._part_bytes = part_bytes
        self._buffer = bytearray()
        self._parts: list[dict[str, Any]] = []
        self._upload_id = ""

    def __enter__(self) -> Self:
        started = _s3().create_multipart_upload(
            Bucket=get_settings().bucket_name, Key=self.key, ContentType=self._content_type
        )
        self._upload_id = started["UploadId"]
        return self

    def write(self, data: bytes) -> int:
        self._buffer += data
        self.bytes += len(data)
        if len(self._buffer) >= self._part_bytes:  # a part a little over part_bytes, sent whole: one copy
            self._send(bytes(self._buffer))
            self._buffer = bytearray()
        return len(data)

    def flush(self) -> None:
        """Parts go when they are whole (zipfile flushes after every entry)."""

    def _send(self, part: bytes) -> None:
        number = len(self._parts) + 1
        sent = _s3().upload_part(
            Bucket=get_settings().bucket_name, Key=self.key, UploadId=self._upload_id, PartNumber=number, Body=part
        )
        self._parts.append({"PartNumber": number, "ETag": sent["ETag"]})

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if kind is not None:
            return  # never completed: the bucket's lifecycle rule aborts it, and drops its parts, a day on
        if self._buffer or not self._parts:
            self._send(bytes(self._buffer))
            self._buffer = bytearray()
        _s3().complete_multipart_upload(
            Bucket=get_settings().bucket_name,
            Key=self.key,
            UploadId=self._upload_id,
            MultipartUpload={"Parts": self._parts},
        )
