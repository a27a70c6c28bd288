"""The API's models: requests as clients send them and documents as clients read them.

Storage records live in `imagejobs.records`, events in `imagejobs.events`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from imagejobs.formats import INPUT_CONTENT_TYPES
from imagejobs.outputs import Output
from imagejobs.pipeline import Strict

# ---- requests ----------------------------------------------------------------------------------

ContentType = Annotated[str, Field(json_schema_extra={"enum": sorted(INPUT_CONTENT_TYPES)})]


class UploadRequest(Strict):
    filename: str = Field(min_length=1, max_length=255)
    content_type: ContentType
    size_bytes: int | None = Field(default=None, ge=1)

    @field_validator("content_type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value.lower() not in INPUT_CONTENT_TYPES:
            raise ValueError(f"must be one of {', '.join(sorted(INPUT_CONTENT_TYPES))}")
        return value.lower()


class Source(Strict):
    """Exactly one of: an earlier upload, or a new upload the job waits for."""

    upload_id: str | None = Field(default=None, pattern=r"^upl_[0-9A-Z]{26}$")
    upload: UploadRequest | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Source:
        if (self.upload_id is None) == (self.upload is None):
            raise ValueError("give exactly one of upload_id or upload")
        return self


class JobRequest(Strict):
    source: Source
    outputs: list[Output] = Field(min_length=1, max_length=10)
    callback_url: str | None = Field(default=None, max_length=2048)
    metadata: dict[str, Any] = Field(default_factory=dict)
    ttl_seconds: int = Field(default=86400, ge=300, le=604800)

    @model_validator(mode="after")
    def _unique_names(self) -> JobRequest:
        names = [output.name for output in self.outputs]
        if len(set(names)) != len(names):
            raise ValueError("output names must be unique")
        return self


# ---- documents ---------------------------------------------------------------------------------

JobStatus = Literal["awaiting_upload", "queued", "processing", "succeeded", "failed"]


class UploadForm(BaseModel):
    """A presigned POST: send `fields` and then `file` as multipart/form-data to `url`."""

    upload_id: str
    url: str
    fields: dict[str, str]
    expires_at: datetime
    max_bytes: int


class SourceDocument(BaseModel):
    upload_id: str
    format: str | None = None
    width: int | None = None
    height: int | None = None
    bytes: int | None = None


class OutputDocument(BaseModel):
    name: str
    format: str
    width: int
    height: int
    bytes: int
    url: str
    url_expires_at: datetime


class ErrorDocument(BaseModel):
    code: str
    message: str


class CallbackDocument(BaseModel):
    url: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int


class JobDocument(BaseModel):
    id: str
    status: JobStatus
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    expires_at: datetime
    source: SourceDocument
    outputs: list[OutputDocument] = Field(default_factory=list)
    error: ErrorDocument | None = None
    attempts: int = 0
    metadata: dict[str, Any] = Field(default_factory=dict)
    callback: CallbackDocument | None = None


class CreatedJobDocument(JobDocument):
    upload: UploadForm | None = Field(
        default=None, description="For an `upload` source: the form to send the image with."
    )
