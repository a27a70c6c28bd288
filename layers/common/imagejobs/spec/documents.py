"""What a client reads: the documents the API answers with, and the error body."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from imagejobs.spec.model import Model
from imagejobs.spec.requests import BatchSource

JobStatus = Literal["awaiting_upload", "queued", "processing", "succeeded", "failed"]


class ErrorDetail(Model):
    path: str = Field(description="The field, as `outputs[0].operations[2].width`")
    message: str


class Error(Model):
    code: str = Field(description="Stable, for programs: invalid_request, unauthorized, not_found, conflict, …")
    message: str = Field(description="For people")
    details: list[ErrorDetail] = Field(default_factory=list)


class ErrorBody(Model):
    """The body of every 4xx and 5xx answer."""

    error: Error


class UploadForm(Model):
    """A presigned POST: send `fields` and then `file` as multipart/form-data to `url`."""

    upload_id: str
    url: str
    fields: dict[str, str]
    expires_at: datetime
    max_bytes: int


class S3Object(Model):
    bucket: str
    key: str
    version_id: str | None = Field(
        default=None, description="The version asked for; once read, the version read (in a versioned bucket)."
    )


class SourceDocument(Model):
    upload_id: str | None = None
    url: str | None = None
    s3: S3Object | None = None
    format: str | None = None
    width: int | None = None
    height: int | None = None
    bytes: int | None = None


class OutputSummary(Model):
    """A made output: what it is, and the connected bucket it was written to, if any (the service's
    own storage is not shown)."""

    name: str
    format: str
    width: int
    height: int
    bytes: int
    destination: str | None = Field(
        default=None,
        description="`s3://bucket/key` when the output has a `destination`: that object is yours, and the job's "
        "expiry and `DELETE` never touch it.",
    )
    destination_status: Literal["written", "skipped"] | None = Field(
        default=None, description="`skipped`: another object was there and the destination said `if_exists: skip`."
    )


class OutputDocument(OutputSummary):
    url: str = Field(description="A presigned download link, for now: it ends at `url_expires_at` (an hour at most).")
    url_expires_at: datetime
    link: str = Field(
        description="A stable link (`GET /v1/o/{token}`): needs no API key and redirects to a fresh download "
        "for as long as the job exists, so it can go into HTML, a `srcset` or a cache. A 404 once the job is "
        "deleted or has expired."
    )
    cdn_url: str | None = Field(
        default=None,
        description="The output on the stack's CDN, where the deployer turned it on (EnableCdn); else null.",
    )


class ErrorDocument(Model):
    """Why a job failed."""

    code: str = Field(
        description="Stable, for programs: `source_not_found`, `unsupported_format`, `corrupt_image`, "
        "`too_many_pixels`, `too_large`, `target_size_unreachable`, `source_fetch_failed`, `timeout`, `internal`; "
        "with connected buckets `not_granted` (a grant revoked after the job was made), `destination_exists` "
        "(`if_exists: fail`) and `destination_write_failed` (S3 refused a write)."
    )
    message: str = Field(description="For people: what happened, and for a destination, what was written before it.")


class CallbackDocument(Model):
    url: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int


class PaletteColour(Model):
    color: str = Field(pattern=r"^#[0-9a-f]{6}$", examples=["#3a5f8c"], description="sRGB, as `#rrggbb`.")
    share: float = Field(ge=0, le=1, description="The part of the picture's (opaque) area near this colour.")


class Camera(Model):
    make: str | None = Field(default=None, max_length=64, examples=["Apple"])
    model: str | None = Field(default=None, max_length=64, examples=["iPhone 15 Pro"])


class GpsPosition(Model):
    latitude: float = Field(ge=-90, le=90, description="Decimal degrees, north positive.")
    longitude: float = Field(ge=-180, le=180, description="Decimal degrees, east positive.")
    altitude: float | None = Field(default=None, description="Metres above sea level, when recorded.")


class Analysis(Model):
    """What the decode of the source tells, for a job created with `analysis`: of the first
    selected page (the first frame of an animation), upright, in sRGB. A part that cannot be had is
    null and says why in `notes`; analysis never fails a job."""

    palette: list[PaletteColour] | None = Field(
        default=None,
        max_length=6,
        description="Up to 6 dominant colours, the largest share first; shares add up to at most 1 (what is "
        "left is in colours too small to list). Empty for a fully transparent source.",
    )
    blurhash: str | None = Field(
        default=None,
        max_length=64,
        examples=["LaJHjmVu8_~po#smR+a~xaoLWCRj"],
        description="A BlurHash (blurha.sh) of 4x3 components (3x4 for a portrait source); transparent areas are "
        "filled with the average colour.",
    )
    thumbhash: str | None = Field(
        default=None,
        max_length=64,
        examples=["oBgODIInj2KId3mJZ4mT0P5bvA=="],
        description="A ThumbHash (evanw.github.io/thumbhash), its bytes in base64: it keeps the aspect ratio "
        "and alpha.",
    )
    has_alpha: bool = Field(description="The source has an alpha channel (it may still be fully opaque).")
    animated: bool = Field(description="The source is an animation (GIF, WebP) of more than one frame.")
    frames: int = Field(ge=1, description="Animation frames; 1 for a still image.")
    camera: Camera | None = Field(default=None, description="From EXIF, when the source records a make or model.")
    captured_at: str | None = Field(
        default=None,
        examples=["2024-05-01T14:03:22+02:00", "2024-05-01T14:03:22"],
        description="From EXIF (DateTimeOriginal): ISO 8601 in the camera's local time, with its offset when the "
        "camera recorded one (OffsetTimeOriginal), else without.",
    )
    gps: GpsPosition | None = Field(
        default=None,
        description='From EXIF, only when the request asked (`analysis: {"gps": true}`) and the source records '
        "a position. The outputs never carry it unless they `keep_metadata`.",
    )
    notes: list[str] = Field(
        default_factory=list,
        max_length=4,
        description="What could not be analysed, and why (e.g. `exif: unreadable`); empty when nothing failed.",
    )


class JobState(Model):
    """A job's state: what the job document shows and the stored record keeps alike."""

    id: str
    status: JobStatus
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    expires_at: datetime
    source: SourceDocument
    analysis: Analysis | None = Field(
        default=None, description="Once the job has succeeded, when it was created with `analysis`; else null."
    )
    error: ErrorDocument | None = None
    attempts: int = 0
    callback: CallbackDocument | None = None


class JobDocument(JobState):
    outputs: list[OutputDocument] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    srcset: dict[str, str] | None = Field(
        default=None,
        description="For a preset with a width ladder: per format, a ready `srcset` of the outputs' stable links "
        "(`link`), or of their `cdn_url` where there is a CDN.",
    )


class JobList(Model):
    jobs: list[JobDocument]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class CreatedJobDocument(JobDocument):
    upload: UploadForm | None = Field(
        default=None, description="For an `upload` source: the form to send the image with."
    )


class BatchCreated(Model):
    batch_id: str
    job_ids: list[str] = Field(description="The jobs' ids; empty for a prefix batch, whose jobs are made as it lists.")


class BatchJob(Model):
    id: str
    status: JobStatus


class BatchCounts(Model):
    """How many of its jobs are in each status. A prefix batch counts its jobs as they are made
    (`listed`) and as they end: its `queued` is every job made and not ended (waiting or running)."""

    total: int
    listed: int = Field(default=0, description="Jobs made so far (a batch of listed jobs: all of them).")
    awaiting_upload: int = 0
    queued: int = 0
    processing: int = 0
    succeeded: int = 0
    failed: int = 0


class FailedJob(Model):
    id: str
    error: ErrorDocument | None = None
    source_key: str | None = Field(default=None, description="The object's key, for a prefix batch's job.")


class ListingDocument(Model):
    """A prefix batch's listing of its objects."""

    status: Literal["listing", "listed", "truncated", "failed"] = Field(
        description="`listing` while pages of keys are being made jobs; `listed` when every key was; `truncated` "
        "when there were more keys than the stack's MaxPrefixBatchJobs (the first ones in key order were made "
        "jobs, no more); `failed` when a page could not be listed (`error` says why; the jobs made run)."
    )
    pages: int = Field(description="Pages of up to 1,000 keys listed so far.")
    error: ErrorDocument | None = None


class BatchDocument(Model):
    id: str
    status: Literal["processing", "completed"]
    created_at: datetime
    completed_at: datetime | None = None
    expires_at: datetime
    counts: BatchCounts
    jobs: list[BatchJob] = Field(description="Its jobs and their statuses; empty for a prefix batch (see failed_jobs).")
    metadata: dict[str, Any] = Field(default_factory=dict)
    callback: CallbackDocument | None = None
    kind: Literal["jobs", "prefix"] = "jobs"
    source: BatchSource | None = Field(default=None, description="A prefix batch's `source`, as it was given.")
    listing: ListingDocument | None = None
    failed_jobs: list[FailedJob] = Field(
        default_factory=list, description="A page of its failed jobs with their errors (`next_failed_cursor` for more)."
    )
    next_failed_cursor: str | None = Field(
        default=None, description="Pass as `failed_cursor` for the next page of failed jobs."
    )
