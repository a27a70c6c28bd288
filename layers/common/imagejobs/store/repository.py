"""Data access for jobs, uploads, batches, idempotency claims and archives. Nothing above this
module (and `tenants`, for tenants, API keys and grants) knows DynamoDB's item shapes.

One table (`dynamodb`): a tenant's items share its partition, so every read is scoped by the
caller's tenant. Records travel as one JSON attribute; the attributes beside it exist for
conditions, TTL and indexes. A job's JSON is stored deflated (`_job_item`).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from imagejobs.errors import ConflictError, TooLargeError
from imagejobs.settings import get_settings
from imagejobs.store.dynamodb import table, tenant_pk
from imagejobs.store.records import ArchiveRecord, BatchRecord, JobRecord, UploadRecord, now


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
    """A batch's jobs are also in the ByBatch index, by status: a page of its failed ones is a query.

    The job's JSON is deflated: a job is written about six times (created, queued, started, ended,
    announced, its callback), and DynamoDB bills a write by the KB of the whole item. Deflated, a job
    of one output fits one write unit instead of two, and a job of many outputs stays several times
    further from the 400 KB item limit (`too_large`)."""
    by_batch = {"batch": _batch_index_key(job.tenant_id, job.batch_id), "batch_sk": f"{job.status}#{job.id}"}
    return {
        "pk": tenant_pk(job.tenant_id),
        "sk": f"JOB#{job.id}",
        "status": job.status,
        "version": job.version,
        "ttl": _epoch(job.expires_at),
        "data": zlib.compress(job.model_dump_json().encode()),
        **(by_batch if job.batch_id else {}),
    }


def _job(item: dict[str, Any]) -> JobRecord:
    """The job an item holds: deflated JSON (binary), or the JSON itself, as 0.1.0 wrote it (a stack
    updated from 0.1.0 still holds such jobs until they expire)."""
    data = item["data"]
    return JobRecord.model_validate_json(data if isinstance(data, str) else zlib.decompress(bytes(data)))


def _batch_index_key(tenant_id: str, batch_id: str | None) -> str:
    return f"{tenant_id}#{batch_id}"


def put_new_job(job: JobRecord) -> JobRecord:
    """Records a new job; or, when an earlier attempt of the same request recorded it under this id
    already (`claim_id`), returns that one as it is now."""
    try:
        table().put_item(Item=_job_item(job), ConditionExpression="attribute_not_exists(pk)")
    except ClientError as error:
        existing = get_job(job.tenant_id, job.id) if _condition_failed(error) else None
        if existing is None:
            raise
        return existing
    return job


def get_job(tenant_id: str, job_id: str) -> JobRecord | None:
    """The job, or None when it does not exist, belongs to another tenant or has expired."""
    item = table().get_item(Key={"pk": tenant_pk(tenant_id), "sk": f"JOB#{job_id}"}, ConsistentRead=True).get("Item")
    if item is None or _expired(item):
        return None
    return _job(item)


def save_job(job: JobRecord) -> JobRecord:
    """Writes `job` if nobody changed it since it was read; returns it with its new version."""
    saved = job.model_copy(update={"version": job.version + 1})
    try:
        table().put_item(
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
            ":pk": tenant_pk(tenant_id),
            ":jobs": "JOB#",
            ":now": _epoch(now()),
            **({":status": status} if status else {}),
        },
        "ScanIndexForward": False,
    }
    if after:
        query["ExclusiveStartKey"] = {"pk": tenant_pk(tenant_id), "sk": f"JOB#{after}"}
    found: list[JobRecord] = []
    while len(found) < limit:
        page = table().query(**query, Limit=limit - len(found))
        found += [_job(item) for item in page["Items"]]
        if "LastEvaluatedKey" not in page:
            return found, None
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return found, found[-1].id


def delete_job(tenant_id: str, job_id: str) -> JobRecord | None:
    """Removes the job; the job as it was when removed (None when it was not there)."""
    old = table().delete_item(Key={"pk": tenant_pk(tenant_id), "sk": f"JOB#{job_id}"}, ReturnValues="ALL_OLD")
    item = old.get("Attributes")
    return None if item is None else _job(item)


# ---- batches -------------------------------------------------------------------------------------


def _batch_key(tenant_id: str, batch_id: str) -> dict[str, str]:
    return {"pk": tenant_pk(tenant_id), "sk": f"BATCH#{batch_id}"}


def put_new_batch(batch: BatchRecord) -> BatchRecord:
    """Records a new batch; or returns the one an earlier attempt of the same request recorded."""
    try:
        table().put_item(
            Item={
                **_batch_key(batch.tenant_id, batch.id),
                "ttl": _epoch(batch.expires_at),
                "data": batch.model_dump_json(),
                **({"listing": batch.listing, "page": batch.page} if batch.kind == "prefix" else {}),
            },
            ConditionExpression="attribute_not_exists(pk)",
        )
    except ClientError as error:
        existing = get_batch(batch.tenant_id, batch.id) if _condition_failed(error) else None
        if existing is None:
            raise
        return existing
    return batch


# What a batch's item's own attributes say happened since it was made (its `data` is as it was made).
_BATCH_COUNTERS = {"listed": "listed", "n_succeeded": "succeeded_count", "n_failed": "failed_count", "page": "page"}


def _batch_from_item(item: dict[str, Any]) -> BatchRecord:
    """The batch as created, with what its item's own attributes say happened since."""
    data = json.loads(item["data"])
    return BatchRecord.model_validate(
        {
            **data,
            "succeeded": sorted(item.get("succeeded", ())),
            "failed": sorted(item.get("failed", ())),
            "completed_at": item.get("completed_at"),
            "completions": int(item.get("completions", 1 if item.get("completed_at") else 0)),
            "notified": bool(item.get("notified", False)),
            "callback": {**data["callback"], **item.get("callback", {})} if data.get("callback") else None,
            **{field: int(item[name]) for name, field in _BATCH_COUNTERS.items() if name in item},
            "listing": item.get("listing", data.get("listing", "listed")),
            "listing_error": json.loads(item["listing_error"]) if "listing_error" in item else None,
            "retrying": bool(item.get("retrying", False)),
        }
    )


def get_batch(tenant_id: str, batch_id: str) -> BatchRecord | None:
    item = table().get_item(Key=_batch_key(tenant_id, batch_id), ConsistentRead=True).get("Item")
    return None if item is None or _expired(item) else _batch_from_item(item)


def batch_job_ended(tenant_id: str, batch_id: str, job_id: str, succeeded: bool) -> BatchRecord:
    """Counts the job as ended in its batch of listed jobs (once, whatever is redelivered); the batch as it is now."""
    ended, other = ("succeeded", "failed") if succeeded else ("failed", "succeeded")
    item = table().update_item(
        Key=_batch_key(tenant_id, batch_id),
        UpdateExpression=f"ADD {ended} :job DELETE {other} :job",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeValues={":job": {job_id}},
        ReturnValues="ALL_NEW",
    )["Attributes"]
    return _batch_from_item(item)


def put_batch_jobs(jobs: list[JobRecord]) -> list[JobRecord]:
    """Records a prefix batch's new jobs, each once (a job already there, made by an earlier delivery
    of the same page, is left as it is); the jobs it recorded."""
    made = []
    for job in jobs:
        try:
            table().put_item(Item=_job_item(job), ConditionExpression="attribute_not_exists(pk)")
        except ClientError as error:
            if not _condition_failed(error):
                raise
            continue
        made.append(job)
    return made


def advance_listing(batch: BatchRecord, page: int, listed: int, listing: str) -> BatchRecord | None:
    """Counts the `listed` jobs of the prefix batch's `page` and moves its listing past it (to
    `listing`: still `listing`, or how it ended), once per page; None when a delivery of that page
    did already."""
    try:
        item = table().update_item(
            Key=_batch_key(batch.tenant_id, batch.id),
            UpdateExpression="SET page = :next, listing = :listing ADD listed :listed",
            ConditionExpression="page = :page AND listing = :listing_now",
            ExpressionAttributeValues={
                ":next": page + 1,
                ":page": page,
                ":listed": listed,
                ":listing": listing,
                ":listing_now": "listing",
            },
            ReturnValues="ALL_NEW",
        )["Attributes"]
    except ClientError as error:
        if _condition_failed(error):
            return None
        raise
    return _batch_from_item(item)


def fail_listing(tenant_id: str, batch_id: str, error: dict[str, str], *, retrying: bool) -> BatchRecord | None:
    """Ends the prefix batch's listing (or, `retrying`, the queueing of its failed jobs again) as
    failed, saying why; the batch as it is now, or None when that had ended already."""
    ended = "retrying = :no" if retrying else "listing = :failed"
    try:
        item = table().update_item(
            Key=_batch_key(tenant_id, batch_id),
            UpdateExpression=f"SET {ended}, listing_error = :error",
            ConditionExpression="retrying = :yes" if retrying else "listing = :listing",
            ExpressionAttributeValues={
                ":error": json.dumps(error),
                **({":no": False, ":yes": True} if retrying else {":failed": "failed", ":listing": "listing"}),
            },
            ReturnValues="ALL_NEW",
        )["Attributes"]
    except ClientError as error_:
        if _condition_failed(error_):
            return None
        raise
    return _batch_from_item(item)


def count_batch_job(tenant_id: str, batch_id: str, succeeded: bool) -> BatchRecord:
    """Counts an ended job of a prefix batch into the batch's counts; the batch as it is now. The
    caller then records on the job that it is counted: a job is counted once but for a delivery that
    stops between the two (counted twice then, never not at all)."""
    counter = "n_succeeded" if succeeded else "n_failed"
    item = table().update_item(
        Key=_batch_key(tenant_id, batch_id),
        UpdateExpression=f"ADD {counter} :one",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeValues={":one": 1},
        ReturnValues="ALL_NEW",
    )["Attributes"]
    return _batch_from_item(item)


def uncount_batch_job(job: JobRecord) -> None:
    """Takes the failed job, retried, out of its batch's failed ones and reopens the batch (it
    completes again once the job has ended)."""
    values: dict[str, Any]
    if job.counted:  # a prefix batch's counted job
        update, values = "ADD n_failed :minus REMOVE completed_at, notified", {":minus": -1}
    else:  # a batch of listed jobs keeps the ids; a prefix batch's job not counted yet has nothing to undo
        update, values = "DELETE failed :job REMOVE completed_at, notified", {":job": {job.id}}
    table().update_item(
        Key=_batch_key(job.tenant_id, str(job.batch_id)),
        UpdateExpression=update,
        ExpressionAttributeValues=values,
    )


def start_batch_retry(tenant_id: str, batch_id: str) -> bool:
    """Marks the completed prefix batch as having its failed jobs queued again; False when it is not completed."""
    try:
        table().update_item(
            Key=_batch_key(tenant_id, batch_id),
            UpdateExpression="SET retrying = :yes REMOVE completed_at, notified",
            ConditionExpression="attribute_exists(completed_at)",
            ExpressionAttributeValues={":yes": True},
        )
    except ClientError as error:
        if _condition_failed(error):
            return False
        raise
    return True


def end_batch_retry(tenant_id: str, batch_id: str) -> BatchRecord:
    """Every failed job of the batch was queued again; the batch as it is now."""
    item = table().update_item(
        Key=_batch_key(tenant_id, batch_id),
        UpdateExpression="SET retrying = :no",
        ExpressionAttributeValues={":no": False},
        ReturnValues="ALL_NEW",
    )["Attributes"]
    return _batch_from_item(item)


def batch_jobs_with_status(
    tenant_id: str, batch_id: str, status: str, *, limit: int, after: str | None
) -> tuple[list[str], str | None]:
    """The ids of the batch's jobs in this status, in id order, `limit` at most, from after the job id
    `after` (the ByBatch index: eventually consistent, so a job may have moved on since); and the id to
    continue after, when there may be more."""
    query: dict[str, Any] = {
        "IndexName": "ByBatch",
        "KeyConditionExpression": "#batch = :batch AND begins_with(batch_sk, :status)",
        "ExpressionAttributeNames": {"#batch": "batch"},
        "ExpressionAttributeValues": {":batch": _batch_index_key(tenant_id, batch_id), ":status": f"{status}#"},
    }
    if after:
        query["ExclusiveStartKey"] = {
            "batch": _batch_index_key(tenant_id, batch_id),
            "batch_sk": f"{status}#{after}",
            "pk": tenant_pk(tenant_id),
            "sk": f"JOB#{after}",
        }
    found: list[str] = []
    while len(found) < limit:
        page = table().query(**query, Limit=limit - len(found))
        found += [item["batch_sk"].split("#", 1)[1] for item in page["Items"]]
        if "LastEvaluatedKey" not in page:
            return found, None
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return found, found[-1]


def complete_batch(batch: BatchRecord) -> bool:
    """Marks the batch completed, once per completion: True for the caller that did."""
    try:
        table().update_item(
            Key=_batch_key(batch.tenant_id, batch.id),
            UpdateExpression="SET completed_at = :at ADD completions :one",
            ConditionExpression="attribute_not_exists(completed_at)",
            ExpressionAttributeValues={":at": now().isoformat(), ":one": 1},
        )
    except ClientError as error:
        if _condition_failed(error):
            return False
        raise
    return True


def set_batch_fields(tenant_id: str, batch_id: str, **fields: Any) -> None:
    """Sets `notified` or `callback` (status and attempts) on the batch."""
    names = {f"#{name}": name for name in fields}
    table().update_item(
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
        keys = [{"pk": tenant_pk(tenant_id), "sk": f"JOB#{job_id}"} for job_id in job_ids[start : start + 100]]
        request: dict[str, Any] = {name: {"Keys": keys, "ConsistentRead": True}}
        while request:
            response = table().meta.client.batch_get_item(RequestItems=request)
            found += [_job(i) for i in response["Responses"].get(name, []) if not _expired(i)]
            request = response.get("UnprocessedKeys") or {}
    return found


# ---- uploads -----------------------------------------------------------------------------------


def _upload_key(tenant_id: str, upload_id: str) -> dict[str, str]:
    return {"pk": tenant_pk(tenant_id), "sk": f"UPLOAD#{upload_id}"}


def put_new_upload(upload: UploadRecord) -> UploadRecord:
    """Records a new upload; or returns the one an earlier attempt of the same request recorded."""
    try:
        table().put_item(
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
    item = table().get_item(Key=_upload_key(tenant_id, upload_id), ConsistentRead=True).get("Item")
    return None if item is None or _expired(item) else _upload_from_item(item)


def wait_for_upload(tenant_id: str, upload_id: str, job_id: str) -> bool:
    """Registers `job_id` to start when the upload lands; False when it has landed already."""
    try:
        table().update_item(
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
        old = table().update_item(
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
    key = {"pk": tenant_pk(tenant_id), "sk": f"CLAIM#{scope}#{key_hash}"}
    try:
        table().put_item(
            Item={**key, "id": new, "fingerprint": fingerprint, "ttl": _epoch(expires_at)},
            ConditionExpression="attribute_not_exists(pk) OR #ttl <= :now",  # an expired claim is no claim
            ExpressionAttributeNames={"#ttl": "ttl"},
            ExpressionAttributeValues={":now": _epoch(now())},
        )
    except ClientError as error:
        if not _condition_failed(error):
            raise
        item = table().get_item(Key=key, ConsistentRead=True)["Item"]
        if item["fingerprint"] != fingerprint:
            raise ConflictError(
                "this Idempotency-Key was used with another body",
                details=[{"path": "Idempotency-Key", "message": "reused with another body"}],
            ) from error
        return str(item["id"])
    return new


# ---- archives ------------------------------------------------------------------------------------


def _archive_key(tenant_id: str, archive_id: str) -> dict[str, str]:
    return {"pk": tenant_pk(tenant_id), "sk": f"ARCHIVE#{archive_id}"}


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
        table().put_item(
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
    item = table().get_item(Key=_archive_key(tenant_id, archive_id), ConsistentRead=True).get("Item")
    return None if item is None or _expired(item) else ArchiveRecord.model_validate_json(item["data"])


def save_archive(archive: ArchiveRecord) -> ArchiveRecord:
    """Writes `archive` if nobody changed it since it was read; returns it with its new version."""
    saved = archive.model_copy(update={"version": archive.version + 1})
    try:
        table().put_item(
            Item=_archive_item(saved),
            ConditionExpression="attribute_exists(pk) AND version = :read",
            ExpressionAttributeValues={":read": archive.version},
        )
    except ClientError as error:
        if _condition_failed(error):
            raise ConflictError(f"archive {archive.id} was changed concurrently") from error
        raise
    return saved
