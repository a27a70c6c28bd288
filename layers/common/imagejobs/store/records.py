"""Storage records: what the repository keeps, separate from the API's documents."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from imagejobs.settings import Tier
from imagejobs.spec.documents import JobStatus
from imagejobs.spec.requests import JobRequest

FINISHED: frozenset[str] = frozenset({"succeeded", "failed"})


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class StoredSource(BaseModel):
    upload_id: str | None = None
    url: str | None = None
    format: str | None = None
    width: int | None = None
    height: int | None = None
    bytes: int | None = None


class StoredOutput(BaseModel):
    name: str
    format: str
    width: int
    height: int
    bytes: int
    key: str
    content_type: str


class StoredError(BaseModel):
    code: str
    message: str


class StoredCallback(BaseModel):
    url: str
    status: Literal["pending", "delivered", "failed"] = "pending"
    attempts: int = 0


class JobRecord(BaseModel):
    tenant_id: str
    tier: Tier = "keyed"
    id: str
    status: JobStatus
    request: JobRequest
    created_at: datetime
    expires_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    source: StoredSource
    outputs: list[StoredOutput] = Field(default_factory=list)
    error: StoredError | None = None
    attempts: int = 0
    callback: StoredCallback | None = None
    batch_id: str | None = None
    notified: bool = False  # its Job Succeeded/Failed event was published
    version: int = 0

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


class UploadRecord(BaseModel):
    tenant_id: str
    id: str
    key: str
    filename: str
    content_type: str
    max_bytes: int
    created_at: datetime
    expires_at: datetime
    received_at: datetime | None = None
    bytes: int | None = None
    waiting_job_ids: list[str] = Field(default_factory=list)


class TenantRecord(BaseModel):
    id: str
    name: str
    webhook_secret: str
    created_at: datetime


class ApiKeyRecord(BaseModel):
    key_hash: str
    tenant_id: str
    name: str
    created_at: datetime
    revoked: bool = False

    @property
    def id(self) -> str:
        """The key's public name: safe to show and log, useless to authenticate with."""
        return f"key_{self.key_hash[:16]}"


class BatchRecord(BaseModel):
    tenant_id: str
    id: str
    job_ids: list[str]
    created_at: datetime
    expires_at: datetime  # that of its longest-lived job
    metadata: dict[str, Any] = Field(default_factory=dict)
    callback: StoredCallback | None = None
    succeeded: list[str] = Field(default_factory=list)  # the ids of its jobs that ended so
    failed: list[str] = Field(default_factory=list)
    completed_at: datetime | None = None
    notified: bool = False  # its Batch Completed event was published

    @property
    def ended(self) -> int:
        return len(self.succeeded) + len(self.failed)
