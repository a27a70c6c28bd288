"""The processing side: uploads landing, and jobs running through the engine."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, Field, TypeAdapter

from imagejobs import engine, net
from imagejobs.deadline import Deadline
from imagejobs.errors import JobError, SourceNotFoundError
from imagejobs.observability import logger, metrics
from imagejobs.services import batches, jobs
from imagejobs.settings import get_settings
from imagejobs.store import bus as events
from imagejobs.store import repository, storage
from imagejobs.store.records import JobRecord, StoredError, StoredOutput, now


class JobMessage(BaseModel):
    type: Literal["job"]
    tenant_id: str
    job_id: str


class S3Object(BaseModel):
    key: str  # quote_plus-encoded, as S3 sends it
    size: int = 0


class S3Entity(BaseModel):
    object: S3Object


class S3Record(BaseModel):
    eventName: str  # noqa: N815 (S3's own field name)
    s3: S3Entity


class S3Notification(BaseModel):
    Records: list[S3Record]


class S3TestEvent(BaseModel):
    Event: Literal["s3:TestEvent"]


Message = TypeAdapter[JobMessage | S3Notification | S3TestEvent](
    Annotated[JobMessage | S3Notification | S3TestEvent, Field(union_mode="left_to_right")]
)


def handle(body: str, deadline: Deadline, final_attempt: bool) -> None:
    """One message of the jobs queue: a job to run, or S3 telling that uploads landed."""
    message = Message.validate_json(body)
    if isinstance(message, JobMessage):
        run_job(message.tenant_id, message.job_id, deadline, final_attempt)
    elif isinstance(message, S3Notification):
        for record in message.Records:
            if record.eventName.startswith("ObjectCreated:"):
                upload_landed(storage.unquote_key(record.s3.object.key), record.s3.object.size)


def upload_landed(key: str, size: int) -> None:
    parsed = storage.parse_upload_key(key)
    upload = repository.mark_upload_received(*parsed, size) if parsed else None
    if upload is None:
        logger.warning("an object landed that no upload expects", extra={"key": key})
        return
    metrics.add_metric(name="UploadsReceived", unit=MetricUnit.Count, value=1)
    for job_id in upload.waiting_job_ids:
        job = repository.get_job(upload.tenant_id, job_id)
        if job is None or job.status not in ("awaiting_upload", "queued"):
            continue  # gone, or started by an earlier delivery of this notification
        if job.status == "awaiting_upload":
            job = repository.save_job(job.model_copy(update={"status": "queued"}))
        jobs.enqueue(job)  # a second message for a queued job is harmless: a job runs once


def run_job(tenant_id: str, job_id: str, deadline: Deadline, final_attempt: bool) -> None:
    job = repository.get_job(tenant_id, job_id)
    if job is None:
        logger.info("job is gone", extra={"job_id": job_id})
        return
    if not job.finished:
        job = repository.save_job(
            job.model_copy(update={"status": "processing", "started_at": now(), "attempts": job.attempts + 1})
        )
        job = repository.save_job(_render(job, deadline, final_attempt))
        metrics.add_metric(name=f"Jobs{job.status.capitalize()}", unit=MetricUnit.Count, value=1)
    if not job.notified:
        events.publish_job(job)
        job = repository.save_job(job.model_copy(update={"notified": True}))
    batches.job_ended(job)


def _render(job: JobRecord, deadline: Deadline, final_attempt: bool) -> JobRecord:
    settings = get_settings()
    tier = settings.limits(job.tier)
    limits = engine.Limits(
        max_source_pixels=tier.max_source_pixels,
        max_output_dimension=tier.max_output_dimension,
        max_frames=tier.max_animation_frames,
    )

    def load_upload(upload_id: str) -> bytes:
        """One of the job's tenant's uploads (the source, a watermark): never another tenant's."""
        upload = repository.get_upload(job.tenant_id, upload_id)
        if upload is None:
            raise SourceNotFoundError(f"upload {upload_id} does not exist or has expired")
        return storage.read_upload(upload)

    try:
        if job.source.url is not None:
            data = net.fetch(
                job.source.url, max_bytes=tier.upload_max_bytes, allow_loopback=settings.allow_loopback_urls
            ).data
        else:
            data = load_upload(job.source.upload_id or "")
        source, rendered = engine.render(
            data,
            job.request.outputs,
            limits,
            deadline,
            load_upload=load_upload,
            pages=job.request.source.pages,
            dpi=job.request.source.dpi,
        )
        outputs = []
        for output in rendered:
            key = storage.output_key(job.tenant_id, job.id, output.name, output.extension)
            storage.put_output(key, output.data, output.content_type)
            outputs.append(
                StoredOutput(
                    name=output.name,
                    format=output.format,
                    width=output.width,
                    height=output.height,
                    bytes=len(output.data),
                    key=key,
                    content_type=output.content_type,
                )
            )
        logger.info("job succeeded", extra={"job_id": job.id, "outputs": len(outputs)})
        return job.model_copy(
            update={
                "status": "succeeded",
                "finished_at": now(),
                "outputs": outputs,
                "source": job.source.model_copy(
                    update={"format": source.format, "width": source.width, "height": source.height, "bytes": len(data)}
                ),
            }
        )
    except JobError as error:
        logger.info("job failed", extra={"job_id": job.id, "code": error.code, "reason": error.message})
        return _failed(job, error.code, error.message)
    except Exception:
        if not final_attempt:
            raise
        # The message's last delivery: record the failure rather than lose the job to the DLQ.
        logger.exception("job failed on its last attempt", extra={"job_id": job.id})
        return _failed(job, "internal", "the job failed unexpectedly; it can be retried")


def _failed(job: JobRecord, code: str, message: str) -> JobRecord:
    return job.model_copy(
        update={"status": "failed", "finished_at": now(), "error": StoredError(code=code, message=message)}
    )
