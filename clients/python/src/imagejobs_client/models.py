"""The API's documents as typed, read-only objects.

Each keeps the JSON it was made from in `raw`, so a field the API adds later is readable before
the client names it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any, Literal
from urllib.parse import urlsplit

JobStatus = Literal["awaiting_upload", "queued", "processing", "succeeded", "failed"]
FINISHED = ("succeeded", "failed")


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


@dataclass(frozen=True)
class UploadForm:
    """A presigned POST: send `fields`, then the file as `file`, as multipart/form-data to `url`."""

    upload_id: str
    url: str
    fields: dict[str, str]
    expires_at: datetime | None
    max_bytes: int

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UploadForm:
        return cls(
            upload_id=data["upload_id"],
            url=data["url"],
            fields=dict(data["fields"]),
            expires_at=_time(data.get("expires_at")),
            max_bytes=int(data["max_bytes"]),
        )


@dataclass(frozen=True)
class Output:
    """A finished output: its encoding, size, a presigned download `url` (valid until `url_expires_at`),
    its stable `link` (no key needed, valid as long as the job) and its `cdn_url` where the stack has a CDN."""

    name: str
    format: str
    width: int
    height: int
    bytes: int
    url: str
    url_expires_at: datetime | None
    link: str | None = None  # None from a server older than stable links
    cdn_url: str | None = None

    @property
    def extension(self) -> str:
        """The extension it is stored with (`jpg` for jpeg), read from its download link."""
        suffix = PurePosixPath(urlsplit(self.url).path).suffix
        return suffix[1:] if suffix else self.format

    @property
    def filename(self) -> str:
        return f"{self.name}.{self.extension}"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Output:
        return cls(
            name=data["name"],
            format=data["format"],
            width=int(data["width"]),
            height=int(data["height"]),
            bytes=int(data["bytes"]),
            url=data["url"],
            url_expires_at=_time(data.get("url_expires_at")),
            link=data.get("link"),
            cdn_url=data.get("cdn_url"),
        )


@dataclass(frozen=True)
class PaletteColour:
    color: str  # "#rrggbb"
    share: float  # of the picture's area, 0 to 1


@dataclass(frozen=True)
class Analysis:
    """What a job created with `analysis` tells of its source (`Job.analysis`). A part that could not
    be had is None and `notes` says why; `gps` only when asked (`analysis={"gps": True}`)."""

    palette: tuple[PaletteColour, ...] | None
    blurhash: str | None
    thumbhash: str | None  # base64
    has_alpha: bool
    animated: bool
    frames: int
    camera: dict[str, str] | None  # {"make", "model"}, from EXIF
    captured_at: str | None  # ISO 8601, in the camera's local time (with its offset when recorded)
    gps: dict[str, float] | None  # {"latitude", "longitude", "altitude"?}
    notes: tuple[str, ...]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Analysis:
        palette = data.get("palette")
        camera = data.get("camera")
        return cls(
            palette=tuple(PaletteColour(c["color"], float(c["share"])) for c in palette)
            if palette is not None
            else None,
            blurhash=data.get("blurhash"),
            thumbhash=data.get("thumbhash"),
            has_alpha=bool(data.get("has_alpha")),
            animated=bool(data.get("animated")),
            frames=int(data.get("frames") or 1),
            camera={key: value for key, value in camera.items() if value is not None} if camera else None,
            captured_at=data.get("captured_at"),
            gps=data.get("gps"),
            notes=tuple(data.get("notes") or ()),
        )


@dataclass(frozen=True)
class JobError:
    code: str  # source_not_found, unsupported_format, corrupt_image, too_many_pixels, too_large, …
    message: str


@dataclass(frozen=True)
class Job:
    """A job document. `upload` is the form to send the image with, on the answer that created a job
    whose source is a new upload."""

    id: str
    status: JobStatus
    created_at: datetime | None
    expires_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    source: dict[str, Any]
    outputs: tuple[Output, ...]
    error: JobError | None
    attempts: int
    metadata: dict[str, Any]
    callback: dict[str, Any] | None
    srcset: dict[str, str] | None
    upload: UploadForm | None
    raw: dict[str, Any] = field(repr=False)
    analysis: Analysis | None = None  # for a job created with `analysis`, once it has succeeded

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def output(self, name: str) -> Output:
        for output in self.outputs:
            if output.name == name:
                return output
        raise KeyError(name)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Job:
        error = data.get("error")
        upload = data.get("upload")
        analysis = data.get("analysis")
        return cls(
            id=data["id"],
            status=data["status"],
            created_at=_time(data.get("created_at")),
            expires_at=_time(data.get("expires_at")),
            started_at=_time(data.get("started_at")),
            finished_at=_time(data.get("finished_at")),
            source=dict(data.get("source") or {}),
            outputs=tuple(Output.from_json(output) for output in data.get("outputs") or []),
            error=JobError(error["code"], error["message"]) if error else None,
            attempts=int(data.get("attempts") or 0),
            metadata=dict(data.get("metadata") or {}),
            callback=data.get("callback"),
            srcset=data.get("srcset"),
            upload=UploadForm.from_json(upload) if upload else None,
            raw=data,
            analysis=Analysis.from_json(analysis) if analysis else None,
        )


@dataclass(frozen=True)
class JobPage:
    """One page of `GET /v1/jobs`, newest first; `next_cursor` is None on the last page."""

    jobs: tuple[Job, ...]
    next_cursor: str | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobPage:
        return cls(tuple(Job.from_json(job) for job in data["jobs"]), data.get("next_cursor"))


@dataclass(frozen=True)
class BatchJob:
    id: str
    status: JobStatus


@dataclass(frozen=True)
class Batch:
    """A batch's aggregate status (`processing` until every job has ended, then `completed`)."""

    id: str
    status: Literal["processing", "completed"]
    counts: dict[str, int]
    jobs: tuple[BatchJob, ...]
    created_at: datetime | None
    completed_at: datetime | None
    expires_at: datetime | None
    metadata: dict[str, Any]
    callback: dict[str, Any] | None
    raw: dict[str, Any] = field(repr=False)
    kind: Literal["jobs", "prefix"] = "jobs"
    listing: dict[str, Any] | None = None  # a prefix batch's: status (listing, listed, truncated, failed), pages
    failed_jobs: tuple[FailedJob, ...] = ()
    next_failed_cursor: str | None = None

    @property
    def finished(self) -> bool:
        return self.status == "completed"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Batch:
        return cls(
            id=data["id"],
            status=data["status"],
            counts={key: int(value) for key, value in (data.get("counts") or {}).items()},
            jobs=tuple(BatchJob(job["id"], job["status"]) for job in data.get("jobs") or []),
            created_at=_time(data.get("created_at")),
            completed_at=_time(data.get("completed_at")),
            expires_at=_time(data.get("expires_at")),
            metadata=dict(data.get("metadata") or {}),
            callback=data.get("callback"),
            raw=data,
            kind=data.get("kind", "jobs"),
            listing=data.get("listing"),
            failed_jobs=tuple(
                FailedJob(job["id"], (job.get("error") or {}).get("code"), job.get("source_key"))
                for job in data.get("failed_jobs") or []
            ),
            next_failed_cursor=data.get("next_failed_cursor"),
        )


@dataclass(frozen=True)
class FailedJob:
    """A failed job of a batch: its id, its error's code, and (a prefix batch's) its object's key."""

    id: str
    code: str | None
    source_key: str | None = None


@dataclass(frozen=True)
class BatchCreated:
    batch_id: str
    job_ids: tuple[str, ...]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BatchCreated:
        return cls(data["batch_id"], tuple(data["job_ids"]))
