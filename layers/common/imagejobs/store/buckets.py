"""The deployer's connected buckets: sources read from them and outputs written to them (the grants
that allow it are `imagejobs.services.grants`').

Objects written here carry the id of the job that wrote them in their metadata
(`x-amz-meta-imagejobs-job-id`): a job that runs again (a redelivered message, a retry) tells its
own earlier writes from anyone else's. Writes that must not replace another object are conditional
(`If-None-Match: *`, or `If-Match` on the object seen), so one written meanwhile is not lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from imagejobs.errors import SourceFetchFailedError, SourceNotFoundError, TooLargeError
from imagejobs.spec.keys import s3_uri
from imagejobs.store.aws import client

JOB_METADATA = "imagejobs-job-id"
_MISSING = frozenset({"NoSuchKey", "NoSuchBucket", "NoSuchVersion", "404"})


class PreconditionFailedError(Exception):
    """Another object arrived at the key since it was looked at: the write did not happen."""


class WriteRefusedError(Exception):
    """S3 refused the write (access denied, no such bucket, a KMS key, …): its error code."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class SourceObject:
    data: bytes
    version_id: str | None  # the version read, in a versioned bucket


@dataclass(frozen=True)
class Existing:
    """An object found at a key: its ETag, and the job that wrote it when it was one of ours."""

    etag: str
    job_id: str | None


def _s3() -> Any:
    return client("s3")


def _error(error: ClientError) -> tuple[str, int]:
    return str(error.response["Error"]["Code"]), int(error.response["ResponseMetadata"]["HTTPStatusCode"])


def read(bucket: str, key: str, version_id: str | None, max_bytes: int) -> SourceObject:
    """The object's bytes; SourceNotFoundError when it (or the version, or the bucket) is not
    there, TooLargeError over `max_bytes` (before reading it), SourceFetchFailedError when S3
    refuses. S3's own failures (5xx) are raised as they are, to be retried."""
    where = s3_uri(bucket, key) + (f" (version {version_id})" if version_id else "")
    try:
        response = _s3().get_object(Bucket=bucket, Key=key, **({"VersionId": version_id} if version_id else {}))
    except ClientError as error:
        code, status = _error(error)
        # S3 answers a malformed version id with 400 InvalidArgument: no such version either.
        if code in _MISSING or status == 404 or (version_id and code == "InvalidArgument"):
            raise SourceNotFoundError(f"there is no object {where}") from error
        if status < 500:
            raise SourceFetchFailedError(f"{where} could not be read: {code}") from error
        raise
    size = int(response["ContentLength"])
    if size > max_bytes:
        response["Body"].close()
        raise TooLargeError(f"{where} is {size} bytes; the limit is {max_bytes}")
    data: bytes = response["Body"].read()
    return SourceObject(data, response.get("VersionId"))


def head(bucket: str, key: str) -> Existing | None:
    """What is at the key now, or None."""
    try:
        response = _s3().head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        code, status = _error(error)
        if code in _MISSING or status == 404:
            return None
        if status < 500:
            raise WriteRefusedError(code) from error
        raise
    return Existing(str(response["ETag"]), response.get("Metadata", {}).get(JOB_METADATA))


def put(
    bucket: str,
    key: str,
    data: bytes,
    *,
    content_type: str,
    cache_control: str | None,
    job_id: str,
    if_absent: bool = False,
    if_match: str | None = None,
) -> None:
    """Writes the object, tagged with the job's id; with `if_absent` only if nothing is at the key,
    with `if_match` only if the object there still has that ETag (PreconditionFailedError if not)."""
    arguments: dict[str, Any] = {
        "Bucket": bucket,
        "Key": key,
        "Body": data,
        "ContentType": content_type,
        "Metadata": {JOB_METADATA: job_id},
    }
    if cache_control is not None:
        arguments["CacheControl"] = cache_control
    if if_absent:
        arguments["IfNoneMatch"] = "*"
    if if_match is not None:
        arguments["IfMatch"] = if_match
    try:
        _s3().put_object(**arguments)
    except ClientError as error:
        code, status = _error(error)
        # 409 ConditionalRequestConflict: a concurrent write to the key won the race.
        if status == 412 or code == "ConditionalRequestConflict":
            raise PreconditionFailedError(code) from error
        if status < 500:
            raise WriteRefusedError(code) from error
        raise


@dataclass(frozen=True)
class Listed:
    """One page of a listing: its keys in key order, and whether more come after the last."""

    keys: list[str]
    more: bool


LIST_PAGE_KEYS = 1000  # S3's most in one ListObjectsV2 answer


def list_page(bucket: str, prefix: str, start_after: str | None) -> Listed:
    """The keys under `prefix` after `start_after`, one page (the same page for the same arguments
    while the bucket's keys do not change, unlike a continuation token, which also expires).
    SourceNotFoundError when the bucket is not there, SourceFetchFailedError when S3 refuses; S3's own
    failures (5xx) are raised as they are, to be retried."""
    try:
        response = _s3().list_objects_v2(
            Bucket=bucket, Prefix=prefix, MaxKeys=LIST_PAGE_KEYS, **({"StartAfter": start_after} if start_after else {})
        )
    except ClientError as error:
        code, status = _error(error)
        if code in _MISSING or status == 404:
            raise SourceNotFoundError(f"there is no bucket {bucket}") from error
        if status < 500:
            raise SourceFetchFailedError(f"{s3_uri(bucket, prefix)} could not be listed: {code}") from error
        raise
    return Listed([item["Key"] for item in response.get("Contents", [])], bool(response.get("IsTruncated")))
