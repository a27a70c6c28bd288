"""Data access. Nothing above this module knows DynamoDB's item shapes.

One table. A tenant's jobs, uploads and grants share its partition (`TENANT#<id>`), so every read
is scoped by the caller's tenant: another tenant's id is simply not found. API keys are stored by
their SHA-256 under `KEY#<hash>`. Records travel as one JSON attribute; the attributes beside it
exist for conditions, TTL and (later) indexes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from imagejobs.errors import ConflictError, TooLargeError
from imagejobs.settings import get_settings
from imagejobs.store.aws import table
from imagejobs.store.records import (
    ApiKeyRecord,
    ArchiveRecord,
    BatchRecord,
    GrantRecord,
    JobRecord,
    TenantRecord,
    UploadRecord,
    now,
)


def _table() -> Any:
    return table(get_settings().table_name)


def _tenant_pk(tenant_id: str) -> str:
    return f"TENANT#{tenant_id}"


def _epoch(at: datetime) -> int:
    return int(at.timestamp())


def _expired(item: dict[str, Any]) -> bool:
    """DynamoDB removes expired items when it gets to them (up to days later); reads don't wait."""
    return int(item["ttl"]) <= _epoch(now())


def _condition_failed(error: ClientError) -> bool:
    return error.response["Error"]["Code"] == "ConditionalCheckFailedException"


def _too_large(error: ClientError) -> bool:
    """DynamoDB refused an item over its 400 KB limit."""
    found = error.response["Error"]
    return found["Code"] == "ValidationException" and "size has exceeded" in found.get("Message", "")


# ---- jobs --------------------------------------------------------------------------------------


def _job_item(job: JobRecord) -> dict[str, Any]:
    return {
        "pk": _tenant_pk(job.tenant_id),
        "sk": f"JOB#{job.id}",
        "status": job.status,
        "version": job.version,
        "ttl": _epoch(job.expires_at),
        "data": job.model_dump_json(),
    }


def put_new_job(job: JobRecord) -> JobRecord:
    """Records a new job; or, when an earlier attempt of the same request recorded it under this id
    already (`claim_id`), returns that one as it is now."""
    try:
        _table().put_item(Item=_job_item(job), ConditionExpression="attribute_not_exists(pk)")
    except ClientError as error:
        existing = get_job(job.tenant_id, job.id) if _condition_failed(error) else None
        if existing is None:
            raise
        return existing
    return job


def get_job(tenant_id: str, job_id: str) -> JobRecord | None:
    """The job, or None when it does not exist, belongs to another tenant or has expired."""
    item = _table().get_item(Key={"pk": _tenant_pk(tenant_id), "sk": f"JOB#{job_id}"}, ConsistentRead=True).get("Item")
    if item is None or _expired(item):
        return None
    return JobRecord.model_validate_json(item["data"])


def save_job(job: JobRecord) -> JobRecord:
    """Writes `job` if nobody changed it since it was read; returns it with its new version."""
    saved = job.model_copy(update={"version": job.version + 1})
    try:
        _table().put_item(
            Item=_job_item(saved),
            ConditionExpression="attribute_exists(pk) AND version = :read",
            ExpressionAttributeValues={":read": job.version},
        )
    except ClientError as error:
        if _condition_failed(error):
            raise ConflictError(f"job {job.id} was changed concurrently") from error
        if _too_large(error):
            raise TooLargeError(
                f"job {job.id} is too large to record ({len(_job_item(saved)['data'])} bytes)"
            ) from error
        raise
    return saved


def update_job(tenant_id: str, job_id: str, change: Callable[[JobRecord], JobRecord]) -> JobRecord | None:
    """Applies `change` to the stored job, reading it again when another writer came first."""
    for _ in range(5):
        job = get_job(tenant_id, job_id)
        if job is None:
            return None
        try:
            return save_job(change(job))
        except ConflictError:
            continue
    raise ConflictError(f"job {job_id} keeps changing concurrently")


def list_jobs(
    tenant_id: str, *, status: str | None, limit: int, after: str | None
) -> tuple[list[JobRecord], str | None]:
    """The tenant's live jobs, newest first (ids sort by time), `limit` at most, from after the job
    id `after`; and the id to continue after, when there may be more."""
    query: dict[str, Any] = {
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :jobs)",
        "FilterExpression": "#ttl > :now" + (" AND #status = :status" if status else ""),
        "ExpressionAttributeNames": {"#ttl": "ttl", **({"#status": "status"} if status else {})},
        "ExpressionAttributeValues": {
            ":pk": _tenant_pk(tenant_id),
            ":jobs": "JOB#",
            ":now": _epoch(now()),
            **({":status": status} if status else {}),
        },
        "ScanIndexForward": False,
    }
    if after:
        query["ExclusiveStartKey"] = {"pk": _tenant_pk(tenant_id), "sk": f"JOB#{after}"}
    found: list[JobRecord] = []
    while len(found) < limit:
        page = _table().query(**query, Limit=limit - len(found))
        found += [JobRecord.model_validate_json(item["data"]) for item in page["Items"]]
        if "LastEvaluatedKey" not in page:
            return found, None
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return found, found[-1].id


def delete_job(tenant_id: str, job_id: str) -> None:
    _table().delete_item(Key={"pk": _tenant_pk(tenant_id), "sk": f"JOB#{job_id}"})


# ---- batches -------------------------------------------------------------------------------------


def _batch_key(tenant_id: str, batch_id: str) -> dict[str, str]:
    return {"pk": _tenant_pk(tenant_id), "sk": f"BATCH#{batch_id}"}


def put_new_batch(batch: BatchRecord) -> BatchRecord:
    """Records a new batch; or returns the one an earlier attempt of the same request recorded."""
    try:
        _table().put_item(
            Item={
                **_batch_key(batch.tenant_id, batch.id),
                "ttl": _epoch(batch.expires_at),
                "data": batch.model_dump_json(),
            },
            ConditionExpression="attribute_not_exists(pk)",
        )
    except ClientError as error:
        existing = get_batch(batch.tenant_id, batch.id) if _condition_failed(error) else None
        if existing is None:
            raise
        return existing
    return batch


def _batch_from_item(item: dict[str, Any]) -> BatchRecord:
    """The batch as created, with what its item's own attributes say happened since."""
    data = json.loads(item["data"])
    return BatchRecord.model_validate(
        {
            **data,
            "succeeded": sorted(item.get("succeeded", ())),
            "failed": sorted(item.get("failed", ())),
            "completed_at": item.get("completed_at"),
            "notified": bool(item.get("notified", False)),
            "callback": {**data["callback"], **item.get("callback", {})} if data.get("callback") else None,
        }
    )


def get_batch(tenant_id: str, batch_id: str) -> BatchRecord | None:
    item = _table().get_item(Key=_batch_key(tenant_id, batch_id), ConsistentRead=True).get("Item")
    return None if item is None or _expired(item) else _batch_from_item(item)


def batch_job_ended(tenant_id: str, batch_id: str, job_id: str, succeeded: bool) -> BatchRecord:
    """Counts the job as ended (once, whatever is redelivered); the batch as it is now."""
    ended, other = ("succeeded", "failed") if succeeded else ("failed", "succeeded")
    item = _table().update_item(
        Key=_batch_key(tenant_id, batch_id),
        UpdateExpression=f"ADD {ended} :job DELETE {other} :job",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeValues={":job": {job_id}},
        ReturnValues="ALL_NEW",
    )["Attributes"]
    return _batch_from_item(item)


def complete_batch(batch: BatchRecord) -> bool:
    """Marks the batch completed, once: True for the caller that did."""
    try:
        _table().update_item(
            Key=_batch_key(batch.tenant_id, batch.id),
            UpdateExpression="SET completed_at = :at",
            ConditionExpression="attribute_not_exists(completed_at)",
            ExpressionAttributeValues={":at": now().isoformat()},
        )
    except ClientError as error:
        if _condition_failed(error):
            return False
        raise
    return True


def set_batch_fields(tenant_id: str, batch_id: str, **fields: Any) -> None:
    """Sets `notified` or `callback` (status and attempts) on the batch."""
    names = {f"#{name}": name for name in fields}
    _table().update_item(
        Key=_batch_key(tenant_id, batch_id),
        UpdateExpression="SET " + ", ".join(f"#{name} = :{name}" for name in fields),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues={f":{name}": value for name, value in fields.items()},
    )


def get_jobs(tenant_id: str, job_ids: list[str]) -> list[JobRecord]:
    """The live jobs of these ids (in no particular order)."""
    name = get_settings().table_name
    found: list[JobRecord] = []
    for start in range(0, len(job_ids), 100):
        keys = [{"pk": _tenant_pk(tenant_id), "sk": f"JOB#{job_id}"} for job_id in job_ids[start : start + 100]]
        request: dict[str, Any] = {name: {"Keys": keys, "ConsistentRead": True}}
        while request:
            response = _table().meta.client.batch_get_item(RequestItems=request)
            found += [
                JobRecord.model_validate_json(i["data"]) for i in response["Responses"].get(name, []) if not _expired(i)
            ]
            request = response.get("UnprocessedKeys") or {}
    return found


# ---- uploads -----------------------------------------------------------------------------------


def _upload_key(tenant_id: str, upload_id: str) -> dict[str, str]:
    return {"pk": _tenant_pk(tenant_id), "sk": f"UPLOAD#{upload_id}"}


def put_new_upload(upload: UploadRecord) -> UploadRecord:
    """Records a new upload; or returns the one an earlier attempt of the same request recorded."""
    try:
        _table().put_item(
            Item={
                **_upload_key(upload.tenant_id, upload.id),
                "ttl": _epoch(upload.expires_at),
                "data": upload.model_dump_json(exclude={"received_at", "bytes", "waiting_job_ids"}),
                **({"waiting": set(upload.waiting_job_ids)} if upload.waiting_job_ids else {}),
            },
            ConditionExpression="attribute_not_exists(pk)",
        )
    except ClientError as error:
        existing = get_upload(upload.tenant_id, upload.id) if _condition_failed(error) else None
        if existing is None:
            raise
        return existing
    return upload


def _upload_from_item(item: dict[str, Any]) -> UploadRecord:
    """The upload as created, with what its item's own attributes say happened since."""
    return UploadRecord.model_validate(
        {
            **json.loads(item["data"]),
            "received_at": item.get("received_at"),
            "bytes": int(item["bytes"]) if "bytes" in item else None,
            "waiting_job_ids": sorted(item.get("waiting", ())),
        }
    )


def get_upload(tenant_id: str, upload_id: str) -> UploadRecord | None:
    item = _table().get_item(Key=_upload_key(tenant_id, upload_id), ConsistentRead=True).get("Item")
    return None if item is None or _expired(item) else _upload_from_item(item)


def wait_for_upload(tenant_id: str, upload_id: str, job_id: str) -> bool:
    """Registers `job_id` to start when the upload lands; False when it has landed already."""
    try:
        _table().update_item(
            Key=_upload_key(tenant_id, upload_id),
            UpdateExpression="ADD waiting :job",
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(received_at)",
            ExpressionAttributeValues={":job": {job_id}},
        )
    except ClientError as error:
        if _condition_failed(error):
            return False
        raise
    return True


def mark_upload_received(tenant_id: str, upload_id: str, size: int) -> UploadRecord | None:
    """Records that the upload's object landed; returns the upload with the jobs that waited for it.

    The waiting list is kept, so a redelivered notification starts the same jobs (they skip if started).
    """
    try:
        old = _table().update_item(
            Key=_upload_key(tenant_id, upload_id),
            UpdateExpression="SET received_at = :at, #bytes = :size",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames={"#bytes": "bytes"},
            ExpressionAttributeValues={":at": now().isoformat(), ":size": size},
            ReturnValues="ALL_OLD",
        )["Attributes"]
    except ClientError as error:
        if _condition_failed(error):
            return None
        raise
    return _upload_from_item(old)


# ---- idempotency claims --------------------------------------------------------------------------


def claim_id(tenant_id: str, scope: str, key_hash: str, *, fingerprint: str, new: str, expires_at: datetime) -> str:
    """The id a request with this Idempotency-Key makes its job or batch under: `new` the first time,
    the first time's after that, so an attempt that failed halfway is finished, not made again.
    A ConflictError when the key came with another body (`fingerprint`)."""
    key = {"pk": _tenant_pk(tenant_id), "sk": f"CLAIM#{scope}#{key_hash}"}
    try:
        _table().put_item(
            Item={**key, "id": new, "fingerprint": fingerprint, "ttl": _epoch(expires_at)},
            ConditionExpression="attribute_not_exists(pk) OR #ttl <= :now",  # an expired claim is no claim
            ExpressionAttributeNames={"#ttl": "ttl"},
            ExpressionAttributeValues={":now": _epoch(now())},
        )
    except ClientError as error:
        if not _condition_failed(error):
            raise
        item = _table().get_item(Key=key, ConsistentRead=True)["Item"]
        if item["fingerprint"] != fingerprint:
            raise ConflictError(
                "this Idempotency-Key was used with another body",
                details=[{"path": "Idempotency-Key", "message": "reused with another body"}],
            ) from error
        return str(item["id"])
    return new


# ---- tenants and keys --------------------------------------------------------------------------


def put_tenant(tenant: TenantRecord) -> None:
    _table().put_item(Item={"pk": _tenant_pk(tenant.id), "sk": "TENANT", "data": tenant.model_dump_json()})


def get_tenant(tenant_id: str) -> TenantRecord | None:
    item = _table().get_item(Key={"pk": _tenant_pk(tenant_id), "sk": "TENANT"}).get("Item")
    return None if item is None else TenantRecord.model_validate_json(item["data"])


def list_tenants() -> list[TenantRecord]:
    """Every tenant (a scan: for the admin command, not for requests)."""
    scan: dict[str, Any] = {"FilterExpression": "sk = :tenant", "ExpressionAttributeValues": {":tenant": "TENANT"}}
    tenants = []
    while True:
        page = _table().scan(**scan)
        tenants += [TenantRecord.model_validate_json(item["data"]) for item in page["Items"]]
        if "LastEvaluatedKey" not in page:
            return sorted(tenants, key=lambda tenant: tenant.created_at)
        scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _key_items(key: ApiKeyRecord) -> list[dict[str, Any]]:
    """The lookup by hash that requests use, and the tenant's own listing of its keys."""
    data = key.model_dump_json()
    return [
        {"pk": f"KEY#{key.key_hash}", "sk": "KEY", "data": data},
        {"pk": _tenant_pk(key.tenant_id), "sk": f"KEY#{key.id}", "data": data},
    ]


def put_api_key(key: ApiKeyRecord) -> None:
    name = get_settings().table_name
    _table().meta.client.transact_write_items(
        TransactItems=[{"Put": {"TableName": name, "Item": item}} for item in _key_items(key)]
    )


def get_api_key(key_hash: str) -> ApiKeyRecord | None:
    item = _table().get_item(Key={"pk": f"KEY#{key_hash}", "sk": "KEY"}).get("Item")
    return None if item is None else ApiKeyRecord.model_validate_json(item["data"])


def list_api_keys(tenant_id: str) -> list[ApiKeyRecord]:
    items = _table().query(
        KeyConditionExpression="pk = :pk AND begins_with(sk, :keys)",
        ExpressionAttributeValues={":pk": _tenant_pk(tenant_id), ":keys": "KEY#"},
    )["Items"]
    return [ApiKeyRecord.model_validate_json(item["data"]) for item in items]


# ---- grants --------------------------------------------------------------------------------------


def _grant_key(tenant_id: str, bucket: str, prefix: str) -> dict[str, str]:
    return {"pk": _tenant_pk(tenant_id), "sk": f"GRANT#{bucket}#{prefix}"}


def put_grant(grant: GrantRecord) -> None:
    """Records the grant; one already on that bucket and prefix is replaced."""
    _table().put_item(Item={**_grant_key(grant.tenant_id, grant.bucket, grant.prefix), "data": grant.model_dump_json()})


def list_grants(tenant_id: str) -> list[GrantRecord]:
    """The tenant's grants, by bucket and prefix."""
    query: dict[str, Any] = {
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :grants)",
        "ExpressionAttributeValues": {":pk": _tenant_pk(tenant_id), ":grants": "GRANT#"},
        "ConsistentRead": True,
    }
    grants = []
    while True:
        page = _table().query(**query)
        grants += [GrantRecord.model_validate_json(item["data"]) for item in page["Items"]]
        if "LastEvaluatedKey" not in page:
            return grants
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def delete_grant(tenant_id: str, bucket: str, prefix: str) -> GrantRecord | None:
    """Removes the grant on exactly that bucket and prefix; the grant it was, or None when there was none."""
    old = _table().delete_item(Key=_grant_key(tenant_id, bucket, prefix), ReturnValues="ALL_OLD").get("Attributes")
    return None if old is None else GrantRecord.model_validate_json(old["data"])


# ---- archives ------------------------------------------------------------------------------------


def _archive_key(tenant_id: str, archive_id: str) -> dict[str, str]:
    return {"pk": _tenant_pk(tenant_id), "sk": f"ARCHIVE#{archive_id}"}


def _archive_item(archive: ArchiveRecord) -> dict[str, Any]:
    return {
        **_archive_key(archive.tenant_id, archive.id),
        "status": archive.status,
        "version": archive.version,
        "ttl": _epoch(archive.expires_at),
        "data": archive.model_dump_json(),
    }


def put_new_archive(archive: ArchiveRecord) -> bool:
    """Stores the archive unless one is there that is not failed (nor expired); False then."""
    try:
        _table().put_item(
            Item=_archive_item(archive),
            ConditionExpression="attribute_not_exists(pk) OR #status = :failed OR #ttl <= :now",
            ExpressionAttributeNames={"#status": "status", "#ttl": "ttl"},
            ExpressionAttributeValues={":failed": "failed", ":now": _epoch(now())},
        )
    except ClientError as error:
        if _condition_failed(error):
            return False
        raise
    return True


def get_archive(tenant_id: str, archive_id: str) -> ArchiveRecord | None:
    item = _table().get_item(Key=_archive_key(tenant_id, archive_id), ConsistentRead=True).get("Item")
    return None if item is None or _expired(item) else ArchiveRecord.model_validate_json(item["data"])


def save_archive(archive: ArchiveRecord) -> ArchiveRecord:
    """Writes `archive` if nobody changed it since it was read; returns it with its new version."""
    saved = archive.model_copy(update={"version": archive.version + 1})
    try:
        _table().put_item(
            Item=_archive_item(saved),
            ConditionExpression="attribute_exists(pk) AND version = :read",
            ExpressionAttributeValues={":read": archive.version},
        )
    except ClientError as error:
        if _condition_failed(error):
            raise ConflictError(f"archive {archive.id} was changed concurrently") from error
        raise
    return saved
