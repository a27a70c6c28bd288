"""What the API answers about an archive: a ZIP of a job's outputs, or of a batch's."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from imagejobs.spec.documents import ErrorDocument
from imagejobs.spec.model import Model


class ArchiveDocument(Model):
    id: str = Field(description="The job's or the batch's id: one archive each.")
    kind: Literal["job", "batch"]
    status: Literal["requested", "building", "ready", "failed"] = Field(
        description="`requested` → `building` → `ready` | `failed`; a failed archive may be requested again."
    )
    created_at: datetime
    expires_at: datetime = Field(description="That of the earliest-expiring job it holds: it goes with them.")
    finished_at: datetime | None = None
    entries: int | None = Field(
        default=None,
        description="Files in the ZIP: a job's outputs as `<name>.<ext>`; a batch's as `<job id>/<name>.<ext>`.",
    )
    bytes: int | None = None
    url: str | None = Field(default=None, description="When ready: a download link (GET), for an hour at most.")
    url_expires_at: datetime | None = None
    error: ErrorDocument | None = None
