"""The processing side: uploads landing, and jobs running through the engine.

No job is left behind. A job's own failures (`JobError`: a broken image, a limit, its deadline)
fail it at once with their code. Any other error is logged with the job's id on every delivery and
retried soon (RETRY_DELAYS, not the queue's whole visibility timeout); the last delivery fails the
job with `internal`. A delivery that never ends (Lambda stopped the function: out of time or
memory) comes back too, and after the last one the dead-letter queue's consumer
(`imagejobs.services.dead_letters`) fails the job. A job deleted while it runs has what it wrote
removed when the attempt ends.
"""

from __future__ import annotations

from collections.abc import Callable

from imagejobs import engine
from imagejobs.batch_response import RetryLaterError
from imagejobs.deadline import Deadline
from imagejobs.errors import ConflictError, JobError, SourceNotFoundError, TooLargeError
from imagejobs.observability import logger, logging_keys, traced
from imagejobs.services import destinations, endings, measures
from imagejobs.services.grants import Grants
from imagejobs.settings import get_settings
from imagejobs.spec.documents import S3Object, SourceDocument
from imagejobs.store import buckets, queue, repository, storage
from imagejobs.store.records import JobRecord, StoredOutput, UploadRecord

RETRY_DELAYS = (10, 60)  # seconds before the 2nd and 3rd delivery of a job that failed unexpectedly


def handle(body: str, deadline: Deadline, delivery: queue.Delivery) -> None:
    """One message of the jobs queue: a job to run, or S3 telling that uploads landed. Whatever
    fails unexpectedly around an attempt (AWS throttling a read, a write that met another writer, the
    bus refusing the job's event) is logged and the message comes back soon, as a failed attempt does;
    after the last delivery the dead-letter queue's consumer ends the job."""
    message = queue.parse(body)
    keys = {"job_id": message.job_id, "tenant_id": message.tenant_id} if isinstance(message, queue.JobMessage) else {}
    with logging_keys(**keys):
        try:
            if isinstance(message, queue.JobMessage):
                run_job(message.tenant_id, message.job_id, deadline, delivery)
            elif isinstance(message, queue.S3Notification):
                for record in message.Records:
                    if record.eventName.startswith("ObjectCreated:"):
                        upload_landed(storage.unquote_key(record.s3.object.key), record.s3.object.size)
        except RetryLaterError:
            raise
        except Exception:  # noqa: BLE001 - not the job's fault: logged, then delivered again soon
            logger.exception("delivery failed unexpectedly", extra={"attempt": delivery.attempt})
            delivery.retry_in(_retry_delay(delivery))
            raise RetryLaterError(f"delivery {delivery.attempt} failed; retried soon") from None


def _retry_delay(delivery: queue.Delivery) -> int:
    return RETRY_DELAYS[min(delivery.attempt, len(RETRY_DELAYS)) - 1]


def upload_landed(key: str, size: int) -> None:
    parsed = storage.parse_upload_key(key)
    upload = repository.mark_upload_received(*parsed, size) if parsed else None
    if upload is None:
        logger.warning("an object landed that no upload expects", extra={"key": key})
        return
    logger.info("upload landed", extra={"upload_id": upload.id, "waiting_jobs": upload.waiting_job_ids})
    measures.upload_received()
    for job_id in upload.waiting_job_ids:
        job = repository.get_job(upload.tenant_id, job_id)
        if job is None or job.status not in ("awaiting_upload", "queued"):
            continue  # gone, or started by an earlier delivery of this notification
        if job.status == "awaiting_upload":
            job = repository.save_job(job.queued())
        queue.send_job(job.tenant_id, job.id)


def run_job(tenant_id: str, job_id: str, deadline: Deadline, delivery: queue.Delivery) -> None:
    job = repository.get_job(tenant_id, job_id)
    if job is None:
        # Deleted (or expired), maybe while an earlier attempt ran: nothing it wrote may stay.
        removed = storage.delete_outputs(tenant_id, job_id)
        logger.info("job is gone", extra={"objects_deleted": removed})
        return
    if not job.finished:
        job = repository.save_job(job.started())
        ended = _attempt(job, deadline, delivery)
        if ended is None:
            return
        job = ended
    endings.announce(job)


def _attempt(job: JobRecord, deadline: Deadline, delivery: queue.Delivery) -> JobRecord | None:
    """Renders and records the job: the job as it ended, or None when it was deleted meanwhile."""
    try:
        return _record(job, _render(job, deadline))
    except JobError as error:
        logger.info("job failed", extra={"code": error.code, "reason": error.message})
        return _record(job, job.failed(error.code, error.message))
    except Exception:  # noqa: BLE001 - not the job's fault: logged with its id, then retried or failed
        logger.exception("job attempt failed unexpectedly", extra={"attempt": delivery.attempt})
        if not delivery.final:
            delivery.retry_in(_retry_delay(delivery))
            raise RetryLaterError(f"job {job.id}: attempt {delivery.attempt} failed; retried soon") from None
        return _record(job, job.failed("internal", "the job failed unexpectedly; it can be retried"))


def _record(started: JobRecord, ended: JobRecord) -> JobRecord | None:
    """Records how the started job ended. A failed job keeps no outputs: what an attempt stored
    before it failed is removed once the failure is recorded. If the job was deleted meanwhile,
    removes what this attempt wrote instead; if the record would be too large, the job fails
    `too_large` with no outputs."""
    try:
        recorded = repository.save_job(ended)
    except TooLargeError as error:
        storage.delete_outputs(started.tenant_id, started.id)
        return _record(started, started.failed("too_large", f"{error.message}: ask for fewer outputs or pages"))
    except ConflictError:
        if repository.get_job(started.tenant_id, started.id) is not None:
            raise
        removed = storage.delete_outputs(started.tenant_id, started.id)
        logger.info("job deleted while it ran", extra={"objects_deleted": removed})
        return None
    if recorded.status == "failed":
        storage.delete_outputs(started.tenant_id, started.id)
    return recorded


def _render(job: JobRecord, deadline: Deadline) -> JobRecord:
    settings = get_settings()
    tier = settings.limits(job.tier)
    limits = engine.Limits(
        max_source_pixels=tier.max_source_pixels,
        max_output_dimension=tier.max_output_dimension,
        max_frames=tier.max_animation_frames,
        max_work_units=settings.max_work_units,
        max_memory_bytes=settings.max_memory_bytes,
    )

    def upload_record(upload_id: str) -> UploadRecord:
        """One of the job's tenant's uploads (the source, a watermark): never another tenant's."""
        upload = repository.get_upload(job.tenant_id, upload_id)
        if upload is None:
            raise SourceNotFoundError(f"upload {upload_id} does not exist or has expired")
        return upload

    def load_upload(upload_id: str) -> bytes:
        return storage.read_upload(upload_record(upload_id))

    data, name, s3 = _read_source(job, tier.upload_max_bytes, upload_record)
    source, rendered = engine.render(
        data,
        job.request.outputs,
        limits,
        deadline,
        load_upload=load_upload,
        pages=job.request.source.pages,
        dpi=job.request.source.dpi,
        analysis=job.request.analysis,
        traced=traced,
        threads=settings.render_threads,
    )
    writes = destinations.plan(job, rendered, name)  # the job's errors before anything is written
    stored = []
    for output in rendered:
        deadline.check("store")
        key = storage.output_key(job.tenant_id, job.id, output.name, output.extension)
        with traced(f"store {output.name}"):
            storage.put_output(key, output.data, output.content_type, not_after=job.expires_at)
        stored.append(key)
    written = destinations.write_all(job.id, writes, deadline)
    outputs = [
        StoredOutput(
            name=output.name,
            format=output.format,
            width=output.width,
            height=output.height,
            bytes=len(output.data),
            key=key,
            content_type=output.content_type,
            destination=written[output.name][0] if output.name in written else None,
            destination_status=written[output.name][1] if output.name in written else None,
        )
        for output, key in zip(rendered, stored, strict=True)
    ]
    logger.info("job succeeded", extra={"outputs": len(outputs), "destinations": len(written)})
    read = SourceDocument(
        upload_id=job.source.upload_id,
        url=job.source.url,
        s3=s3,
        format=source.format,
        width=source.width,
        height=source.height,
        bytes=len(data),
    )
    return job.succeeded(read, outputs, source.analysis)


def _read_source(
    job: JobRecord, max_bytes: int, upload_record: Callable[[str], UploadRecord]
) -> tuple[bytes, str | None, S3Object | None]:
    """The source's bytes, what its `{source_key}` is made of (its key or file name), and, for an
    object in a connected bucket, the version read."""
    s3 = job.source.s3
    if job.source.url is not None:
        from imagejobs import net  # noqa: PLC0415 - only URL sources load http.client, ssl and email

        loopback = get_settings().allow_loopback_urls
        return net.fetch(job.source.url, max_bytes=max_bytes, allow_loopback=loopback).data, None, None
    if s3 is not None:
        Grants(job.tenant_id).require("read", s3.bucket, s3.key, "source.s3")
        found = buckets.read(s3.bucket, s3.key, s3.version_id, max_bytes=max_bytes)
        return found.data, s3.key, s3.model_copy(update={"version_id": found.version_id or s3.version_id})
    upload = upload_record(job.source.upload_id or "")
    return storage.read_upload(upload), upload.filename, None
