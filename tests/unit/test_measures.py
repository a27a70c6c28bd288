"""The metrics operators watch, read back from the EMF documents measures.py prints."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from imagejobs.services import measures
from tests import emf
from tests.emf import Datum

QUEUED = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
STARTED = QUEUED + timedelta(seconds=4)
FINISHED = QUEUED + timedelta(seconds=5, milliseconds=250)


@pytest.fixture
def emitted(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Callable[[], list[Datum]]:
    """The metrics printed since the test began, as in a function with the template's environment."""
    monkeypatch.setattr(measures.metrics, "namespace", "imagejobs")
    monkeypatch.setattr(measures.metrics, "service", "imagejobs")
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)
    capsys.readouterr()
    return lambda: emf.read(capsys.readouterr().out)


def datum(name: str, unit: str, value: float, **dimensions: str) -> Datum:
    return Datum("imagejobs", name, unit, tuple(sorted({"service": "imagejobs", **dimensions}.items())), (value,))


def test_a_succeeded_job_is_counted_by_status_and_tier_with_its_durations_and_bytes(
    emitted: Callable[[], list[Datum]],
) -> None:
    measures.job_ended(
        status="succeeded",
        error_code=None,
        tier="keyed",
        queued_at=QUEUED,
        started_at=STARTED,
        finished_at=FINISHED,
        source_bytes=2_140_000,
        outputs=[("webp", 18_211), ("jpeg", 153_600)],
    )
    assert sorted(emitted(), key=repr) == sorted(
        [
            datum("JobsEnded", "Count", 1, status="succeeded"),
            datum("JobsEnded", "Count", 1, tier="keyed"),
            datum("JobDuration", "Milliseconds", 5250),
            datum("ProcessingDuration", "Milliseconds", 1250),
            datum("SourceBytes", "Bytes", 2_140_000),
            datum("OutputBytes", "Bytes", 171_811),
            datum("OutputBytes", "Bytes", 18_211, format="webp"),
            datum("OutputBytes", "Bytes", 153_600, format="jpeg"),
        ],
        key=repr,
    )


def test_a_failed_job_is_counted_by_its_error_code_and_measures_only_what_happened(
    emitted: Callable[[], list[Datum]],
) -> None:
    # GIVEN a job that failed before it started (its upload never arrived) and read no source
    measures.job_ended(
        status="failed",
        error_code="source_not_found",
        tier="anonymous",
        queued_at=QUEUED,
        started_at=None,
        finished_at=FINISHED,
        source_bytes=None,
    )
    # THEN it counts, by status, tier and code, and has a latency; nothing else is made up
    assert sorted(emitted(), key=repr) == sorted(
        [
            datum("JobsEnded", "Count", 1, status="failed"),
            datum("JobsEnded", "Count", 1, tier="anonymous"),
            datum("JobsFailed", "Count", 1, error_code="source_not_found"),
            datum("JobDuration", "Milliseconds", 5250),
        ],
        key=repr,
    )


def test_output_bytes_add_up_per_format_within_a_job(emitted: Callable[[], list[Datum]]) -> None:
    measures.job_ended(
        status="succeeded",
        error_code=None,
        tier="keyed",
        queued_at=QUEUED,
        started_at=STARTED,
        finished_at=FINISHED,
        source_bytes=1000,
        outputs=[("avif", 300), ("webp", 400), ("avif", 200), ("webp", 100)],
    )
    output_bytes = {dict(d.dimensions).get("format"): d.values for d in emitted() if d.name == "OutputBytes"}
    assert output_bytes == {None: (1000.0,), "avif": (500.0,), "webp": (500.0,)}


@pytest.mark.parametrize(("status", "error_code"), [("succeeded", "internal"), ("failed", None)])
def test_a_job_has_an_error_code_exactly_when_it_failed(
    emitted: Callable[[], list[Datum]], status: measures.JobStatus, error_code: str | None
) -> None:
    with pytest.raises(ValueError, match="only a failed job has one"):
        measures.job_ended(
            status=status,
            error_code=error_code,
            tier="keyed",
            queued_at=QUEUED,
            started_at=STARTED,
            finished_at=FINISHED,
            source_bytes=1,
        )
    assert emitted() == []


@pytest.mark.parametrize("status", ["delivered", "pending", "failed"])
def test_callback_attempts_are_counted_by_status(
    emitted: Callable[[], list[Datum]], status: measures.CallbackStatus
) -> None:
    measures.callback_attempted(status)
    assert emitted() == [datum("CallbackAttempts", "Count", 1, status=status)]


def test_nothing_is_written_where_metrics_are_disabled(
    emitted: Callable[[], list[Datum]], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    measures.callback_attempted("delivered")
    measures.job_ended(
        status="succeeded",
        error_code=None,
        tier="keyed",
        queued_at=QUEUED,
        started_at=STARTED,
        finished_at=FINISHED,
        source_bytes=1,
        outputs=[("png", 1)],
    )
    assert capsys.readouterr().out == ""
