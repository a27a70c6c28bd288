"""Stable links to a job's outputs: made for the job documents, and followed by `GET /v1/o/{token}`
to a fresh presigned download, as long as the job exists."""

from __future__ import annotations

import time
from dataclasses import dataclass

from imagejobs import links
from imagejobs.errors import NotFoundError
from imagejobs.store import repository, secrets, storage
from imagejobs.store.records import JobRecord, StoredOutput, now

# The presigned GET a link redirects to lives 10 minutes; a browser or a CDN may keep the redirect
# 3 minutes (and a third of the download's life at most), so a kept redirect still has minutes to run.
REDIRECT_SECONDS = 600
MAX_KEEP_SECONDS = 180
# One answer for every refusal: an unknown, forged, changed or ended token, a deleted or expired job.
GONE = "no such link: it was never made, or its job was deleted or has expired"


@dataclass(frozen=True)
class Redirect:
    location: str
    keep_seconds: int  # how long the redirect itself may be cached


def link(job: JobRecord, output: StoredOutput) -> str:
    """The output's stable link: it works without a key until the job expires or is deleted."""
    claim = links.Claim(job.tenant_id, job.id, output.name, int(job.expires_at.timestamp()))
    return links.url(links.sign(claim, secrets.link_secret()))


def follow(token: str) -> Redirect:
    """Where a link leads now: a fresh presigned download of its output."""
    claim = links.verify(token, secrets.link_secret(), now=time.time())
    if claim is None:
        raise NotFoundError(GONE)
    job = repository.get_job(claim.tenant_id, claim.job_id)  # None once deleted or expired
    output = next((o for o in job.outputs if o.name == claim.output), None) if job else None
    if job is None or output is None:
        raise NotFoundError(GONE)
    location, expires_at = storage.presigned_get(output.key, not_after=job.expires_at, seconds=REDIRECT_SECONDS)
    lifetime = int((expires_at - now()).total_seconds())
    return Redirect(location, keep_seconds=min(MAX_KEEP_SECONDS, lifetime // 3))
