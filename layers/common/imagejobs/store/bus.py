"""Events on the bus (source `imagejobs`): what users' rules and the callback rule match on."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from imagejobs.settings import get_settings
from imagejobs.store.aws import client
from imagejobs.store.records import BatchRecord, JobRecord, StoredError, StoredOutput, StoredSource

SOURCE = "imagejobs"
JOB_DETAIL_TYPES = {"succeeded": "Job Succeeded", "failed": "Job Failed"}
BATCH_COMPLETED = "Batch Completed"


class PublishError(Exception):
    """The bus refused an event; the caller's message is retried."""


class JobEventDetail(BaseModel):
    tenant_id: str
    job_id: str
    status: str
    source: StoredSource
    outputs: list[StoredOutput]
    error: StoredError | None = None
    metadata: dict[str, Any]
    callback_url: str | None = None


class BatchEventDetail(BaseModel):
    tenant_id: str
    batch_id: str
    total: int
    succeeded: int
    failed: int
    metadata: dict[str, Any]
    callback_url: str | None = None


class BusEvent(BaseModel):
    """An EventBridge event as targets receive it."""

    id: str
    detail_type: str
    source: str
    detail: dict[str, Any]

    @classmethod
    def parse(cls, event: dict[str, Any]) -> BusEvent:
        return cls(id=event["id"], detail_type=event["detail-type"], source=event["source"], detail=event["detail"])


def publish_job(job: JobRecord) -> None:
    detail = JobEventDetail(
        tenant_id=job.tenant_id,
        job_id=job.id,
        status=job.status,
        source=job.source,
        outputs=job.outputs,
        error=job.error,
        metadata=job.request.metadata,
        callback_url=job.callback.url if job.callback else None,
    )
    _publish(JOB_DETAIL_TYPES[job.status], detail)


def publish_batch(batch: BatchRecord) -> None:
    detail = BatchEventDetail(
        tenant_id=batch.tenant_id,
        batch_id=batch.id,
        total=len(batch.job_ids),
        succeeded=len(batch.succeeded),
        failed=len(batch.failed),
        metadata=batch.metadata,
        callback_url=batch.callback.url if batch.callback else None,
    )
    _publish(BATCH_COMPLETED, detail)


def _publish(detail_type: str, detail: BaseModel) -> None:
    response = client("events").put_events(
        Entries=[
            {
                "Source": SOURCE,
                "DetailType": detail_type,
                "Detail": detail.model_dump_json(exclude_none=True),
                "EventBusName": get_settings().event_bus_name,
                "Resources": [],
            }
        ]
    )
    if response.get("FailedEntryCount"):
        raise PublishError(str(response["Entries"]))
