"""The events on the bus (source `imagejobs`) and the callbacks' bodies: a public contract, as the
API's documents are. Users attach their own rules to the bus and match on these details.

A job event's detail is the job document (as `GET /v1/jobs/{id}` answers it when the event is
published) with the tenant's id; a batch event's is the batch document with the tenant's id.
Callbacks POST `{"type": …, "data": <the same detail>}`, made afresh at each delivery attempt, so
its download links are fresh. No storage key appears in either.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from imagejobs.spec.documents import BatchDocument, JobDocument
from imagejobs.spec.model import Model

SOURCE = "imagejobs"
JOB_SUCCEEDED = "Job Succeeded"
JOB_FAILED = "Job Failed"
BATCH_COMPLETED = "Batch Completed"
DETAIL_TYPES = (JOB_SUCCEEDED, JOB_FAILED, BATCH_COMPLETED)
# a job's status when it ends -> its event's detail-type and its callback's type
JOB_ENDINGS = {"succeeded": (JOB_SUCCEEDED, "job.succeeded"), "failed": (JOB_FAILED, "job.failed")}


class JobEvent(JobDocument):
    """The detail of `Job Succeeded` and `Job Failed`, and a job callback's `data`."""

    tenant_id: str = Field(description="The tenant the job belongs to.")


class BatchEvent(BatchDocument):
    """The detail of `Batch Completed`, and a batch callback's `data`."""

    tenant_id: str = Field(description="The tenant the batch belongs to.")


class JobCallback(Model):
    """The body of a job's callback."""

    type: Literal["job.succeeded", "job.failed"]
    data: JobEvent


class BatchCallback(Model):
    """The body of a batch's callback."""

    type: Literal["batch.completed"]
    data: BatchEvent


class Subject(Model):
    """What an event is about, as its receivers inside the stack read it from any detail."""

    tenant_id: str
    id: str
