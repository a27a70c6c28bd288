"""Storage records: what the repository keeps (those of tenants, API keys and grants are in
`tenants`). Their public parts are the API's own types (`imagejobs.spec.documents`); what only
storage knows (keys, versions, tenants) is added here.

A job's status changes only through its transitions (`queued()`, `started()`, …), each of which
refuses a move its state does not allow: a record is never edited field by field.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal, Self

from pydantic import Field, field_validator

from imagejobs.settings import Tier
from imagejobs.spec.documents import (
    Analysis,
    CallbackDocument,
    ErrorDocument,
    JobState,
    JobStatus,
    OutputSummary,
    SourceDocument,
)
from imagejobs.spec.model import Model
from imagejobs.spec.outputs import Output
from imagejobs.spec.requests import AnalysisRequest, BatchRequest, analysis_options

FINISHED: frozenset[str] = frozenset({"succeeded", "failed"})
CallbackStatus = Literal["pending", "delivered", "failed"]


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class IllegalTransitionError(Exception):
    """A record was asked to move where its state does not allow: a bug in the caller, never the client's doing."""


class StoredSourceRequest(Model):
    pages: str | None = None
    dpi: int | None = None


class StoredRequest(Model):
    """What a job runs: the request as validated when it was created, its preset expanded into
    outputs (the rest of the request lives in the record's own fields)."""

    source: StoredSourceRequest = Field(default_factory=StoredSourceRequest)
    outputs: list[Output]
    preset: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    analysis: AnalysisRequest | None = None  # the request's `analysis`, None when it asked for none

    @field_validator("analysis", mode="before")
    @classmethod
    def _options(cls, value: object) -> object:
        """The request's `true`/`false` as the options they stand for."""
        return analysis_options(value) if isinstance(value, bool) else value


class StoredOutput(OutputSummary):
    key: str
    content_type: str


class _Record(Model):
    def _with(self, **changes: Any) -> Self:
        """A copy with these fields changed; a field it does not have is a bug, not a silent no-op."""
        unknown = changes.keys() - type(self).model_fields.keys()
        if unknown:
            raise IllegalTransitionError(f"{type(self).__name__} has no field {', '.join(sorted(unknown))}")
        return self.model_copy(update=changes)


# The statuses each transition may start from. A job message is what starts a job, whatever the
# upload's notification said (awaiting_upload -> processing); a job redelivered after a crash starts
# again (processing -> processing); a job that cannot run fails from any unfinished status.
_JOB_MOVES: dict[str, frozenset[str]] = {
    "queued": frozenset({"awaiting_upload"}),
    "started": frozenset({"awaiting_upload", "queued", "processing"}),
    "succeeded": frozenset({"processing"}),
    "failed": frozenset({"awaiting_upload", "queued", "processing"}),
    "retried": frozenset({"failed"}),
}


class JobRecord(JobState, _Record):
    """The job's public state (`JobState`), and what only storage knows."""

    tenant_id: str
    tier: Tier = "keyed"
    request: StoredRequest
    outputs: list[StoredOutput] = Field(default_factory=list)
    batch_id: str | None = None
    queued_at: datetime | None = None  # when its upload landed, for a job that waited for one
    notified: bool = False  # its Job Succeeded/Failed event was published
    prefix_batch: bool = False  # its batch counts its jobs' endings rather than keeping their ids
    counted: bool = False  # its ending is in its prefix batch's counts
    version: int = 0

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def _move(self, transition: str, status: JobStatus, **changes: Any) -> JobRecord:
        if self.status not in _JOB_MOVES[transition]:
            raise IllegalTransitionError(f"job {self.id} is {self.status}: it cannot be {transition}")
        return self._with(status=status, **changes)

    def queued(self) -> JobRecord:
        """Its upload landed: it can run."""
        return self._move("queued", "queued", queued_at=now())

    def started(self) -> JobRecord:
        """A worker took it (again, when an earlier attempt died)."""
        return self._move("started", "processing", started_at=now(), attempts=self.attempts + 1)

    def succeeded(
        self, source: SourceDocument, outputs: list[StoredOutput], analysis: Analysis | None = None
    ) -> JobRecord:
        return self._move(
            "succeeded", "succeeded", finished_at=now(), source=source, outputs=outputs, analysis=analysis
        )

    def failed(self, code: str, message: str) -> JobRecord:
        return self._move("failed", "failed", finished_at=now(), error=ErrorDocument(code=code, message=message))

    def retried(self) -> JobRecord:
        """A failed job queued to run again from its source, its event and callback to come anew."""
        callback = new_callback(self.callback.url) if self.callback else None
        return self._move(
            "retried",
            "queued",
            error=None,
            started_at=None,
            finished_at=None,
            notified=False,
            counted=False,
            callback=callback,
        )

    def announced(self) -> JobRecord:
        """Its Job Succeeded/Failed event was published."""
        if not self.finished:
            raise IllegalTransitionError(f"job {self.id} is {self.status}: only an ended job is announced")
        return self._with(notified=True)

    def counted_in_batch(self) -> JobRecord:
        """Its ending was counted into its prefix batch's counts."""
        if not (self.finished and self.prefix_batch):
            raise IllegalTransitionError(
                f"job {self.id} is {self.status}: only an ended job of a prefix batch is counted"
            )
        return self._with(counted=True)

    def callback_attempted(self, status: CallbackStatus, attempts: int) -> JobRecord:
        if self.callback is None:
            raise IllegalTransitionError(f"job {self.id} has no callback")
        return self._with(callback=CallbackDocument(url=self.callback.url, status=status, attempts=attempts))


class UploadRecord(_Record):
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


BatchKind = Literal["jobs", "prefix"]
# A prefix batch's listing: under way, done (every key made a job), stopped at MaxPrefixBatchJobs
# (`truncated`), or given up (its message dead-lettered: the jobs made so far run, no more come).
ListingStatus = Literal["listing", "listed", "truncated", "failed"]


class BatchRecord(_Record):
    """A batch of listed jobs (`job_ids`, their ends kept as sets of ids: 100 at most), or of every
    object under a prefix (`request`, their ends kept as counters: the jobs are too many to list in
    one item, and are found by the table's ByBatch index)."""

    tenant_id: str
    id: str
    job_ids: list[str]
    created_at: datetime
    expires_at: datetime  # that of its longest-lived job
    metadata: dict[str, Any] = Field(default_factory=dict)
    callback: CallbackDocument | None = None
    succeeded: list[str] = Field(default_factory=list)  # the ids of its jobs that ended so
    failed: list[str] = Field(default_factory=list)
    completed_at: datetime | None = None
    completions: int = 0  # it completes again after its failed jobs are retried
    notified: bool = False  # its Batch Completed event was published
    kind: BatchKind = "jobs"
    tier: Tier = "keyed"
    request: BatchRequest | None = None  # a prefix batch's: what each object's job is made of
    listed: int = 0  # a prefix batch's jobs made so far
    succeeded_count: int = 0  # ... and how many of them ended so (each counted once per ending)
    failed_count: int = 0
    listing: ListingStatus = "listed"
    listing_error: ErrorDocument | None = None
    page: int = 0  # the next page of the listing
    retrying: bool = False  # its failed jobs are being queued again, page by page

    @property
    def total(self) -> int:
        return self.listed if self.kind == "prefix" else len(self.job_ids)

    @property
    def ended(self) -> int:
        if self.kind == "prefix":
            return self.succeeded_count + self.failed_count
        return len(self.succeeded) + len(self.failed)

    @property
    def complete(self) -> bool:
        """Every job it will have has ended: its listing (or retry) is over, and nothing runs. (A prefix
        batch's count may pass its total when a delivery stopped between counting a job and recording
        that it did: `services.endings`.)"""
        if self.kind == "prefix":
            return self.listing != "listing" and not self.retrying and self.ended >= self.total
        return not self.retrying and self.ended == self.total

    def callback_attempted(self, status: CallbackStatus, attempts: int) -> BatchRecord:
        if self.callback is None:
            raise IllegalTransitionError(f"batch {self.id} has no callback")
        return self._with(callback=CallbackDocument(url=self.callback.url, status=status, attempts=attempts))

    def completed(self) -> BatchRecord:
        if not self.complete or self.completed_at is not None:
            raise IllegalTransitionError(
                f"batch {self.id} has {self.ended} of {self.total} jobs ended: it cannot complete"
            )
        return self._with(completed_at=now(), completions=self.completions + 1)


def new_callback(url: str) -> CallbackDocument:
    return CallbackDocument(url=url, status="pending", attempts=0)


ArchiveKind = Literal["job", "batch"]
ArchiveStatus = Literal["requested", "building", "ready", "failed"]

# The statuses each archive transition may start from: a redelivered build starts again
# (building -> building); an archive that cannot be built fails from any unfinished status.
_ARCHIVE_MOVES: dict[str, frozenset[str]] = {
    "building": frozenset({"requested", "building"}),
    "ready": frozenset({"building"}),
    "failed": frozenset({"requested", "building"}),
}


class ArchiveRecord(_Record):
    """A ZIP of a job's outputs, or of a batch's succeeded jobs' outputs; its id is theirs. It
    expires with the earliest-expiring job it holds."""

    tenant_id: str
    id: str  # the job's or the batch's
    kind: ArchiveKind
    status: ArchiveStatus = "requested"
    created_at: datetime
    expires_at: datetime
    finished_at: datetime | None = None
    entries: int | None = None
    bytes: int | None = None
    error: ErrorDocument | None = None
    version: int = 0

    @property
    def finished(self) -> bool:
        return self.status in ("ready", "failed")

    def _move(self, status: ArchiveStatus, **changes: Any) -> ArchiveRecord:
        if self.status not in _ARCHIVE_MOVES[status]:
            raise IllegalTransitionError(f"archive {self.id} is {self.status}: it cannot be {status}")
        return self._with(status=status, **changes)

    def building(self) -> ArchiveRecord:
        return self._move("building")

    def ready(self, entries: int, size: int) -> ArchiveRecord:
        return self._move("ready", finished_at=now(), entries=entries, bytes=size)

    def failed(self, code: str, message: str) -> ArchiveRecord:
        return self._move("failed", finished_at=now(), error=ErrorDocument(code=code, message=message))
