"""The fan-out function's work: a prefix batch's listing, one page (up to 1,000 keys) per message,
and the queueing again of its failed jobs when it is retried, one page per message.

Each page makes its jobs, queues them, moves the batch's listing past it and asks for the next page
(a message with the page's last key, S3's StartAfter), in that order, so no invocation is long and
its memory is one page whatever the prefix holds; a delivery again of a page whose listing moved on
asks for the next page again, in case the first stopped before. A job's id is derived from the batch and the key and
recorded only if it is not there (`repository.put_batch_jobs`), and a page's jobs are counted with
the move past it (`repository.advance_listing`, once per page): a page delivered again makes no job
twice and counts none twice; it queues its jobs again (a job runs once).

The batch completes when its listing has ended and every job made has ended, checked by whichever
of the two comes last (`endings.complete_if_done`). What cannot be listed (the bucket gone, the
grant revoked) ends the listing as `failed` with the error; a message every delivery of which failed
reaches the dead-letter queue, which this function also reads: that ends the listing as `failed`
too, so no batch is left listing.
"""

from __future__ import annotations

from imagejobs.caller import Caller
from imagejobs.errors import JobError, NotGrantedError
from imagejobs.ids import derived_id
from imagejobs.observability import logger
from imagejobs.services import creation, endings, jobs
from imagejobs.services.grants import Grants
from imagejobs.settings import get_settings
from imagejobs.spec.keys import s3_uri
from imagejobs.store import buckets, queue, repository
from imagejobs.store.records import BatchRecord, JobRecord

RETRY_PAGE = 1000  # failed jobs queued again by one message


def handle(body: str, *, redelivered: bool) -> None:
    message = queue.parse_fan_out(body)
    if isinstance(message, queue.ListPageMessage):
        list_page(message, redelivered=redelivered)
    else:
        retry_page(message)


def dead_letter(body: str) -> None:
    """A message no delivery could handle: the listing (or retry) it was part of ends as failed, and
    the batch completes once the jobs made have ended."""
    message = queue.parse_fan_out(body)
    retrying = isinstance(message, queue.RetryPageMessage)
    error = {
        "code": "internal",
        "message": "a page of the batch could not be "
        + ("queued again" if retrying else "listed: no more jobs are made; the ones made run"),
    }
    batch = repository.fail_listing(message.tenant_id, message.batch_id, error, retrying=retrying)
    logger.warning("fan-out message dead-lettered", extra={"batch_id": message.batch_id, "retrying": retrying})
    if batch is not None:
        endings.complete_if_done(batch)


def list_page(message: queue.ListPageMessage, *, redelivered: bool) -> None:
    batch = repository.get_batch(message.tenant_id, message.batch_id)
    source = batch.request.source if batch is not None and batch.request is not None else None
    if (
        batch is None
        or source is None
        or batch.listing != "listing"
        or batch.page not in (message.page, message.page + 1)
    ):
        logger.info("listing over, or its batch gone", extra={"batch_id": message.batch_id, "page": message.page})
        return
    prefix = source.s3_prefix
    try:
        if not Grants(batch.tenant_id).covers("read", prefix.bucket, prefix.prefix):
            raise NotGrantedError(f"no grant lets this tenant read {s3_uri(prefix.bucket, prefix.prefix)} any longer")
        listed = buckets.list_page(prefix.bucket, prefix.prefix, message.start_after)
    except JobError as error:
        failed = repository.fail_listing(
            batch.tenant_id, batch.id, {"code": error.code, "message": error.message}, retrying=False
        )
        logger.info("listing failed", extra={"batch_id": batch.id, "code": error.code})
        if failed is not None:
            endings.complete_if_done(failed)
        return
    next_page = queue.ListPageMessage(
        tenant_id=batch.tenant_id,
        batch_id=batch.id,
        page=message.page + 1,
        start_after=listed.keys[-1] if listed.keys else None,
    )
    if batch.page == message.page + 1:
        # An earlier delivery moved the listing on and stopped before asking for the next page.
        if redelivered:
            queue.send_fan_out(next_page)
        return
    room = get_settings().max_prefix_batch_jobs - batch.listed
    matching = [key for key in listed.keys if prefix.matches(key)]
    taken = matching[:room]
    made = _make_jobs(batch, taken, redelivered=redelivered)
    truncated = len(matching) > room or (listed.more and len(matching) >= room)
    more = listed.more and not truncated
    status = "listing" if more else "truncated" if truncated else "listed"
    advanced = repository.advance_listing(batch, message.page, len(taken), status)  # None: another delivery did
    logger.info(
        "page listed",
        extra={"batch_id": batch.id, "page": message.page, "keys": len(listed.keys), "jobs": made, "listing": status},
    )
    if advanced is None:
        return
    if more:
        queue.send_fan_out(next_page)
    else:
        endings.complete_if_done(advanced)


def _make_jobs(batch: BatchRecord, keys: list[str], *, redelivered: bool) -> int:
    """Records and queues a job of each key; how many it recorded (a redelivered page queues again
    the jobs an earlier delivery recorded, in case it stopped before queueing them)."""
    if batch.request is None or not keys:
        return 0
    caller = Caller(tenant_id=batch.tenant_id, tier=batch.tier)
    jobs_: list[JobRecord] = []
    for key in keys:
        job = creation.new_job(
            caller, batch.request.job(key), derived_id("job", batch.id, key), batch_id=batch.id, landed=True
        )
        jobs_.append(job.model_copy(update={"expires_at": batch.expires_at, "prefix_batch": True}))
    made = repository.put_batch_jobs(jobs_)
    queue.send_jobs(batch.tenant_id, [job.id for job in (jobs_ if redelivered else made)])
    return len(made)


def retry_page(message: queue.RetryPageMessage) -> None:
    """Queues again the next page of the batch's failed jobs; the last page ends the retry."""
    batch = repository.get_batch(message.tenant_id, message.batch_id)
    if batch is None or not batch.retrying:
        return
    ids, last = repository.batch_jobs_with_status(
        batch.tenant_id, batch.id, "failed", limit=RETRY_PAGE, after=message.after
    )
    retried = [jobs.retry(job) for job in repository.get_jobs(batch.tenant_id, ids) if job.status == "failed"]
    queue.send_jobs(batch.tenant_id, [job.id for job in retried])
    if last is not None:
        queue.send_fan_out(queue.RetryPageMessage(tenant_id=batch.tenant_id, batch_id=batch.id, after=last))
        return
    endings.complete_if_done(repository.end_batch_retry(batch.tenant_id, batch.id))
    logger.info("failed jobs queued again", extra={"batch_id": batch.id})
