"""The processing side: uploads landing, and jobs running through the engine."""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit

from imagejobs import engine, net
from imagejobs.deadline import Deadline
from imagejobs.errors import JobError, SourceNotFoundError
from imagejobs.observability import logger, metrics
from imagejobs.services import views
from imagejobs.settings import get_settings
from imagejobs.spec.documents import SourceDocument
from imagejobs.spec.events import BATCH_COMPLETED, JOB_ENDINGS
from imagejobs.store import bus, queue, repository, storage
from imagejobs.store.records import JobRecord, StoredOutput


def handle(body: str, deadline: Deadline, final_attempt: bool) -> None:
    """One message of the jobs queue: a job to run, or S3 telling that uploads landed."""
    message = queue.parse(body)
    if isinstance(message, queue.JobMessage):
        run_job(message.tenant_id, message.job_id, deadline, final_attempt)
    elif isinstance(message, queue.S3Notification):
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
            job = repository.save_job(job.queued())
        queue.send_job(job.tenant_id, job.id)


def run_job(tenant_id: str, job_id: str, deadline: Deadline, final_attempt: bool) -> None:
    job = repository.get_job(tenant_id, job_id)
    if job is None:
        logger.info("job is gone", extra={"job_id": job_id})
        return
    if not job.finished:
        job = repository.save_job(job.started())
        job = repository.save_job(_render(job, deadline, final_attempt))
        metrics.add_metric(name=f"Jobs{job.status.capitalize()}", unit=MetricUnit.Count, value=1)
    if not job.notified:
        bus.publish(JOB_ENDINGS[job.status][0], views.job_event(job))
        job = repository.save_job(job.announced())
    _count_into_batch(job)


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
        read = SourceDocument(
            upload_id=job.source.upload_id,
            url=job.source.url,
            format=source.format,
            width=source.width,
            height=source.height,
            bytes=len(data),
        )
        return job.succeeded(read, outputs)
    except JobError as error:
        logger.info("job failed", extra={"job_id": job.id, "code": error.code, "reason": error.message})
        return job.failed(error.code, error.message)
    except Exception:
        if not final_attempt:
            raise
        # The message's last delivery: record the failure rather than lose the job to the DLQ.
        logger.exception("job failed on its last attempt", extra={"job_id": job.id})
        return job.failed("internal", "the job failed unexpectedly; it can be retried")


def _count_into_batch(job: JobRecord) -> None:
    """Counts an ended job into its batch; when it was the last, the batch completes (once) and its
    Batch Completed event is published (again, should an earlier publication have failed)."""
    if job.batch_id is None:
        return
    batch = repository.batch_job_ended(job.tenant_id, job.batch_id, job.id, succeeded=job.status == "succeeded")
    if batch.ended == len(batch.job_ids) and batch.completed_at is None and repository.complete_batch(batch):
        batch = batch.completed()
    if batch.completed_at is not None and not batch.notified:
        bus.publish(BATCH_COMPLETED, views.batch_event(batch))
        repository.set_batch_fields(batch.tenant_id, batch.id, notified=True)
