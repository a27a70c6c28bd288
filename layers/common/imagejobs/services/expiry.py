"""When DynamoDB's TTL removes a job, an upload or an archive, its objects go too (S3's lifecycle rule is the
backstop). Reads never wait for this: an expired record already reads as gone."""

from __future__ import annotations

from imagejobs.observability import logger
from imagejobs.store import storage


def expired(pk: str, sk: str) -> None:
    """Deletes the stored images of the record with these keys, which TTL removed."""
    tenant_id = pk.removeprefix("TENANT#")
    kind, _, record_id = sk.partition("#")
    if not pk.startswith("TENANT#") or not record_id:
        logger.warning("not a record with images", extra={"pk": pk, "sk": sk})
        return
    if kind == "JOB":
        deleted = storage.delete_outputs(tenant_id, record_id)
    elif kind == "UPLOAD":
        deleted = storage.delete_upload(tenant_id, record_id)
    elif kind == "ARCHIVE":
        deleted = storage.delete_archive(tenant_id, record_id)
    else:
        return
    logger.info("expired", extra={"kind": kind.lower(), "id": record_id, "objects_deleted": deleted})
