"""A record's life: every transition from every status, the legal ones made and the others refused."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import get_args

import pytest

from imagejobs.spec.documents import JobStatus, SourceDocument
from imagejobs.store.records import (
    BatchRecord,
    IllegalTransitionError,
    JobRecord,
    StoredOutput,
    new_callback,
    now,
)
from imagejobs.store.tenants import ApiKeyRecord

READ = SourceDocument(upload_id="upl_01KAZ5Y0000000000000000002", format="jpeg", width=640, height=480, bytes=1234)
OUTPUT = StoredOutput(
    name="thumb", format="webp", width=64, height=48, bytes=99, key="outputs/t/j/thumb.webp", content_type="image/webp"
)
TRANSITIONS: dict[str, Callable[[JobRecord], JobRecord]] = {
    "queued": lambda job: job.queued(),
    "started": lambda job: job.started(),
    "succeeded": lambda job: job.succeeded(READ, [OUTPUT]),
    "failed": lambda job: job.failed("corrupt_image", "the jpeg image data is corrupt"),
    "retried": lambda job: job.retried(),
}
# status before -> transition -> status after; every pair not listed is refused.
LEGAL = {
    ("awaiting_upload", "queued"): "queued",
    ("awaiting_upload", "started"): "processing",
    ("awaiting_upload", "failed"): "failed",
    ("queued", "started"): "processing",
    ("queued", "failed"): "failed",
    ("processing", "started"): "processing",
    ("processing", "succeeded"): "succeeded",
    ("processing", "failed"): "failed",
    ("failed", "retried"): "queued",
}


def job(status: str, **fields: object) -> JobRecord:
    created = now()
    return JobRecord.model_validate(
        {
            "tenant_id": "ten_1",
            "id": "job_1",
            "status": status,
            "request": {"outputs": [{"name": "thumb", "format": "webp"}]},
            "created_at": created,
            "expires_at": created + timedelta(days=1),
            "source": SourceDocument(upload_id=READ.upload_id),
            **fields,
        }
    )


@pytest.mark.parametrize("status", get_args(JobStatus))
@pytest.mark.parametrize("transition", TRANSITIONS)
def test_each_transition_is_made_from_the_statuses_that_allow_it_and_refused_from_the_others(
    status: str, transition: str
) -> None:
    before = job(status)
    expected = LEGAL.get((status, transition))

    if expected is None:
        with pytest.raises(IllegalTransitionError, match=f"job job_1 is {status}: it cannot be {transition}"):
            TRANSITIONS[transition](before)
    else:
        after = TRANSITIONS[transition](before)
        assert after.status == expected
        assert before.status == status  # records are values: the original is unchanged


def test_starting_counts_the_attempt_and_stamps_the_start() -> None:
    started = job("queued", attempts=1).started()

    assert (started.attempts, started.started_at is not None) == (2, True)


def test_success_records_what_was_read_and_made() -> None:
    done = job("processing").succeeded(READ, [OUTPUT])

    assert (done.source, done.outputs, done.finished_at is not None, done.error) == (READ, [OUTPUT], True, None)


def test_failure_records_the_code_and_message() -> None:
    failed = job("processing").failed("timeout", "ran out of time before step 'encode'")

    assert failed.error is not None
    assert (failed.error.code, failed.error.message) == ("timeout", "ran out of time before step 'encode'")


def test_a_retry_forgets_the_failure_and_its_announcements() -> None:
    failed = job(
        "failed",
        started_at=now(),
        finished_at=now(),
        error={"code": "internal", "message": "a bug"},
        notified=True,
        callback={"url": "https://example.com/hook", "status": "failed", "attempts": 13},
    )

    retried = failed.retried()

    assert (retried.error, retried.started_at, retried.finished_at, retried.notified) == (None, None, None, False)
    assert retried.callback == new_callback("https://example.com/hook")


@pytest.mark.parametrize("status", get_args(JobStatus))
def test_only_an_ended_job_is_announced(status: str) -> None:
    if status in ("succeeded", "failed"):
        assert job(status).announced().notified
    else:
        with pytest.raises(IllegalTransitionError, match="only an ended job is announced"):
            job(status).announced()


def test_a_callback_attempt_is_recorded_on_a_job_that_has_a_callback_only() -> None:
    with_callback = job("succeeded", callback=new_callback("https://example.com/hook"))

    attempted = with_callback.callback_attempted("delivered", 2)

    assert attempted.callback is not None
    assert (attempted.callback.status, attempted.callback.attempts) == ("delivered", 2)
    with pytest.raises(IllegalTransitionError, match="has no callback"):
        job("succeeded").callback_attempted("delivered", 1)


def test_a_misspelt_field_is_an_error_not_a_silent_no_op() -> None:
    with pytest.raises(IllegalTransitionError, match="has no field statsu"):
        job("queued")._with(statsu="processing")


def batch(ended: int, total: int = 2, **fields: object) -> BatchRecord:
    ids = [f"job_{n}" for n in range(total)]
    return BatchRecord.model_validate(
        {
            "tenant_id": "ten_1",
            "id": "bat_1",
            "job_ids": ids,
            "created_at": now(),
            "expires_at": now() + timedelta(days=1),
            "succeeded": ids[:ended],
            **fields,
        }
    )


def test_a_batch_completes_once_every_job_has_ended_and_only_once() -> None:
    with pytest.raises(IllegalTransitionError, match="has 1 of 2 jobs ended"):
        batch(ended=1).completed()

    completed = batch(ended=2).completed()

    assert completed.completed_at is not None
    with pytest.raises(IllegalTransitionError, match="cannot complete"):
        completed.completed()


def test_a_batch_records_callback_attempts_only_when_it_has_a_callback() -> None:
    attempted = batch(2, callback=new_callback("https://example.com/hook")).callback_attempted("failed", 13)

    assert attempted.callback is not None
    assert (attempted.callback.status, attempted.callback.attempts) == ("failed", 13)
    with pytest.raises(IllegalTransitionError, match="has no callback"):
        batch(2).callback_attempted("failed", 1)


def test_a_revoked_key_stays_the_same_key() -> None:
    key = ApiKeyRecord(key_hash="ab" * 32, tenant_id="ten_1", name="ci", created_at=now())

    revoked = key.revoke()

    assert (revoked.revoked, revoked.id, key.revoked) == (True, key.id, False)
