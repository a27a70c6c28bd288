"""The API's models: requests as clients send them and documents as clients read them.

Storage records live in `imagejobs.records`, events in `imagejobs.events`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from imagejobs import presets
from imagejobs.formats import INPUT_CONTENT_TYPES, page_ranges
from imagejobs.outputs import Output
from imagejobs.pipeline import Strict

# ---- requests ----------------------------------------------------------------------------------

ContentType = Annotated[str, Field(json_schema_extra={"enum": sorted(INPUT_CONTENT_TYPES)})]


class UploadRequest(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"filename": "photo.heic", "content_type": "image/heic", "size_bytes": 2140000}]
        },
    )

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
    """Exactly one of: an earlier upload, a new upload the job waits for, or a URL to fetch."""

    upload_id: str | None = Field(default=None, pattern=r"^upl_[0-9A-Z]{26}$")
    upload: UploadRequest | None = None
    url: str | None = Field(
        default=None,
        max_length=2048,
        description="An https URL the service fetches: at most 5 redirects, each to a public address, and no "
        "more bytes than an upload may have. Failures end the job with `source_fetch_failed`.",
    )
    pages: str | None = Field(
        default=None,
        max_length=200,
        examples=["1-3,5", "2-"],
        description="Pages of a PDF or multi-page TIFF, 1-based, like `1-3,5` or `2-` (to the last page); "
        "default the first page. Each selected page gives each output once, named `<output>-p<page>` when "
        "several pages are selected. A page the source does not have fails the job with `source_not_found`. "
        "Animation frames are not pages: animated GIF and WebP keep them all.",
    )
    dpi: int | None = Field(
        default=None,
        ge=36,
        le=600,
        description="Resolution to render PDF pages (default 150, lowered when the pages would exceed the pixel "
        "limit) and SVG (default 72: its own size) at.",
    )

    @field_validator("pages")
    @classmethod
    def _page_ranges(cls, value: str | None) -> str | None:
        if value is not None:
            page_ranges(value)
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> Source:
        if [self.upload_id, self.upload, self.url].count(None) != 2:
            raise ValueError("give exactly one of upload_id, upload or url")
        return self


PresetName = Annotated[str, Field(json_schema_extra={"enum": list(presets.AVAILABLE)})]


class JobRequest(Strict):
    """Give exactly one of `outputs` or `preset` (checked by `imagejobs.jobs`, which expands the preset)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "source": {"upload_id": "upl_01JD4W3ZP8Q6S2KX7Y0M9N5B1C"},
                    "outputs": [
                        {
                            "name": "thumb",
                            "format": "webp",
                            "quality": 80,
                            "operations": [{"type": "resize", "width": 400, "height": 400, "position": "attention"}],
                        },
                        {
                            "name": "print",
                            "format": "jpeg",
                            "max_bytes": 153600,
                            "operations": [{"type": "rotate", "angle": 90}, {"type": "text", "text": "© ACME"}],
                        },
                    ],
                    "callback_url": "https://example.com/hooks/images",
                    "metadata": {"order": "1234"},
                    "ttl_seconds": 86400,
                },
                {"source": {"url": "https://images.example.com/a.jpg"}, "preset": "responsive"},
            ]
        },
    )

    source: Source
    outputs: list[Output] = Field(default_factory=list, max_length=10, description="1 to 10 outputs; or a `preset`.")
    preset: PresetName | None = Field(default=None, description="A preset's outputs instead (GET /v1/presets).")
    callback_url: str | None = Field(default=None, max_length=2048)
    metadata: dict[str, Any] = Field(default_factory=dict)
    ttl_seconds: int = Field(default=86400, ge=300, le=604800)

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, value: str | None) -> str | None:
        if value is not None and value not in presets.AVAILABLE:
            raise ValueError(f"must be one of {', '.join(presets.AVAILABLE)}")
        return value

    @model_validator(mode="after")
    def _unique_names(self) -> JobRequest:
        names = [output.name for output in self.outputs]
        if len(set(names)) != len(names):
            raise ValueError("output names must be unique")
        return self


# ---- documents ---------------------------------------------------------------------------------

JobStatus = Literal["awaiting_upload", "queued", "processing", "succeeded", "failed"]


class ErrorDetail(BaseModel):
    path: str = Field(description="The field, as `outputs[0].operations[2].width`")
    message: str


class Error(BaseModel):
    code: str = Field(description="Stable, for programs: invalid_request, unauthorized, not_found, conflict, …")
    message: str = Field(description="For people")
    details: list[ErrorDetail] = Field(default_factory=list)


class ErrorBody(BaseModel):
    """The body of every 4xx and 5xx answer."""

    error: Error


class UploadForm(BaseModel):
    """A presigned POST: send `fields` and then `file` as multipart/form-data to `url`."""

    upload_id: str
    url: str
    fields: dict[str, str]
    expires_at: datetime
    max_bytes: int


class SourceDocument(BaseModel):
    upload_id: str | None = None
    url: str | None = None
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
    srcset: dict[str, str] | None = Field(
        default=None, description="For a preset with a width ladder: per format, a ready `srcset` of the outputs."
    )


class JobList(BaseModel):
    jobs: list[JobDocument]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class CreatedJobDocument(JobDocument):
    upload: UploadForm | None = Field(
        default=None, description="For an `upload` source: the form to send the image with."
    )


# ---- batches -----------------------------------------------------------------------------------

MAX_BATCH_JOBS = 100


class BatchRequest(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "jobs": [
                        {"source": {"upload_id": "upl_01JD4W3ZP8Q6S2KX7Y0M9N5B1C"}, "preset": "og-image"},
                        {"source": {"url": "https://images.example.com/b.jpg"}, "preset": "og-image"},
                    ],
                    "callback_url": "https://example.com/hooks/batches",
                }
            ]
        },
    )

    jobs: list[JobRequest] = Field(min_length=1, max_length=MAX_BATCH_JOBS)
    callback_url: str | None = Field(
        default=None, max_length=2048, description="Receives `batch.completed` once every job has ended."
    )
    metadata: dict[str, Any] = Field(default_factory=dict)


class BatchCreated(BaseModel):
    batch_id: str
    job_ids: list[str]


class BatchJob(BaseModel):
    id: str
    status: JobStatus


class BatchCounts(BaseModel):
    total: int
    awaiting_upload: int = 0
    queued: int = 0
    processing: int = 0
    succeeded: int = 0
    failed: int = 0


class BatchDocument(BaseModel):
    id: str
    status: Literal["processing", "completed"]
    created_at: datetime
    completed_at: datetime | None = None
    expires_at: datetime
    counts: BatchCounts
    jobs: list[BatchJob]
    metadata: dict[str, Any] = Field(default_factory=dict)
    callback: CallbackDocument | None = None
