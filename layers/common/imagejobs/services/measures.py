"""What operators watch: every job as it ends, every callback attempt and every upload received, as
CloudWatch metrics.

The shared Powertools `metrics` writes every metric of one flush with the same dimensions, and where
metrics are disabled it never empties (it writes them out when 100 have gathered); these need
dimensions of their own (a job's status, its error code, its tier, an output's format), so each dimension
set goes out at once in its own EMF document, written by a Powertools CloudWatch EMF provider of
its own: in the shared namespace, with the `service` dimension every metric of the service carries,
and silent where POWERTOOLS_METRICS_DISABLED is (the local stack). (Powertools' `single_metric`
does the same for one metric, but ignores POWERTOOLS_METRICS_DISABLED.)

The alarms and the dashboard of template.yaml query these names and dimensions (a test of the
template checks each one is emitted here).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

from imagejobs.observability import metrics

JOBS_ENDED = "JobsEnded"  # Count, by status and by tier
JOBS_FAILED = "JobsFailed"  # Count, by error code
JOB_DURATION = "JobDuration"  # Milliseconds from queued to finished: what a client waits for
PROCESSING_DURATION = "ProcessingDuration"  # Milliseconds from the last start to finished
SOURCE_BYTES = "SourceBytes"  # Bytes of the source read
OUTPUT_BYTES = "OutputBytes"  # Bytes of the outputs stored: all of a job's, and by format
CALLBACK_ATTEMPTS = "CallbackAttempts"  # Count, by status
UPLOADS_RECEIVED = "UploadsReceived"  # Count: uploads that landed in S3 as an upload expected them

JobStatus = Literal["succeeded", "failed"]
CallbackStatus = Literal["delivered", "pending", "failed"]  # pending: failed, and will be retried


def job_ended(
    *,
    status: JobStatus,
    error_code: str | None,
    tier: str,
    queued_at: datetime,
    started_at: datetime | None,
    finished_at: datetime,
    source_bytes: int | None,
    outputs: Iterable[tuple[str, int]] = (),
) -> None:
    """A job has ended (once per job, not per attempt).

    `queued_at` is when the job could start: when it was made, or when its upload landed for a job
    made with its own upload form (so a client's slow upload is not counted as our latency).
    `started_at` is when its last attempt started (None when it failed before starting);
    `source_bytes` the size of the source read (None when it was not read); `outputs` the format
    and size in bytes of each output stored.
    """
    if (status == "failed") != (error_code is not None):
        raise ValueError(f"a {status} job with error code {error_code!r}: only a failed job has one")
    by_format: Counter[str] = Counter()
    for output_format, size in outputs:
        by_format[output_format] += size

    totals: dict[str, tuple[MetricUnit, float]] = {
        JOB_DURATION: (MetricUnit.Milliseconds, _milliseconds(queued_at, finished_at))
    }
    if started_at is not None:
        totals[PROCESSING_DURATION] = (MetricUnit.Milliseconds, _milliseconds(started_at, finished_at))
    if source_bytes is not None:
        totals[SOURCE_BYTES] = (MetricUnit.Bytes, source_bytes)
    if by_format:
        totals[OUTPUT_BYTES] = (MetricUnit.Bytes, by_format.total())
    _emit(totals)
    _emit({JOBS_ENDED: (MetricUnit.Count, 1)}, status=status)
    _emit({JOBS_ENDED: (MetricUnit.Count, 1)}, tier=tier)
    if error_code is not None:
        _emit({JOBS_FAILED: (MetricUnit.Count, 1)}, error_code=error_code)
    for output_format, size in sorted(by_format.items()):
        _emit({OUTPUT_BYTES: (MetricUnit.Bytes, size)}, format=output_format)


def callback_attempted(status: CallbackStatus) -> None:
    """One attempt to deliver a callback: delivered, failed and to be retried (pending), or failed
    for good (refused with 410, or the last attempt)."""
    _emit({CALLBACK_ATTEMPTS: (MetricUnit.Count, 1)}, status=status)


def upload_received() -> None:
    """An upload landed where an upload expected it."""
    _emit({UPLOADS_RECEIVED: (MetricUnit.Count, 1)})


def _milliseconds(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() * 1000


def _emit(values: dict[str, tuple[MetricUnit, float]], **dimensions: str) -> None:
    """One EMF document: these metrics, with these dimensions and `service`."""
    document = AmazonCloudWatchEMFProvider(namespace=metrics.namespace, service=metrics.service)
    for name, (unit, value) in values.items():
        document.add_metric(name=name, unit=unit, value=value)
    for dimension, dimension_value in dimensions.items():
        document.add_dimension(name=dimension, value=dimension_value)
    document.flush_metrics(raise_on_empty_metrics=True)
