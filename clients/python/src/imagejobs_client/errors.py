"""What the client raises: every exception is an `ImageJobsError`.

An answer of the API that is not a success becomes an `APIError` (a subclass per kind of status)
carrying the API's `code`, `message` and `details`, whose `path`s name the fields of the request
that were refused, as in `outputs[0].operations[2].width`.
"""

from __future__ import annotations

import email.utils
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from imagejobs_client.models import Job


class ImageJobsError(Exception):
    """The root of everything the client raises."""


@dataclass(frozen=True)
class ErrorDetail:
    path: str  # the field, as `outputs[0].operations[2].width`
    message: str


class APIError(ImageJobsError):
    """The API answered with an error: `status`, and its body's `code`, `message` and `details`."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: tuple[ErrorDetail, ...] = (),
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.retry_after = retry_after  # seconds, from a Retry-After header
        super().__init__(str(self))

    @property
    def paths(self) -> list[str]:
        """The fields the API named, as `outputs[0].operations[2].width`."""
        return [detail.path for detail in self.details]

    def __str__(self) -> str:
        lines = [f"{self.status} {self.code}: {self.message}"]
        lines += [
            f"  {detail.path}: {detail.message}"
            for detail in self.details
            if f"{detail.path}: {detail.message}" not in self.message  # the message may quote a single detail
        ]
        return "\n".join(lines)


class InvalidRequestError(APIError):
    """400, 413, 415, 422: the request must change; `details` name the fields."""


class AuthenticationError(APIError):
    """401, 403: no key, or a key the API does not accept."""


class NotFoundError(APIError):
    """404, 410: no such job, batch or upload for this key's tenant (or it expired)."""


class ConflictError(APIError):
    """409: the job cannot be retried in its state, or an Idempotency-Key was reused with another body."""


class RateLimitError(APIError):
    """429 after the client's retries, or with a Retry-After longer than it is willing to wait."""


class ServerError(APIError):
    """5xx."""


_BY_STATUS: dict[int, type[APIError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    403: AuthenticationError,
    404: NotFoundError,
    409: ConflictError,
    410: NotFoundError,
    413: InvalidRequestError,
    415: InvalidRequestError,
    422: InvalidRequestError,
    429: RateLimitError,
}


def retry_after(response: httpx.Response) -> float | None:
    """The response's Retry-After in seconds (it may be a number or an HTTP date), or None."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def from_response(response: httpx.Response) -> APIError:
    """The error an API answer stands for, from its `{"error": {"code", "message", "details"}}` body."""
    status = response.status_code
    kind = _BY_STATUS.get(status, ServerError if status >= 500 else APIError)
    try:
        body: Any = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):  # not the API's own shape: a proxy or a load balancer answered
        text = response.text.strip()[:200] or response.reason_phrase
        return kind(status, "http_error", f"{response.request.method} {response.request.url}: {text}")
    details = tuple(
        ErrorDetail(str(detail.get("path", "")), str(detail.get("message", "")))
        for detail in error.get("details") or []
        if isinstance(detail, dict)
    )
    return kind(
        status,
        str(error.get("code", "http_error")),
        str(error.get("message", "")),
        details,
        retry_after(response),
    )


class TransportError(ImageJobsError):
    """Nothing answered (connection refused, DNS, timeout), after the client's retries."""


class StorageError(ImageJobsError):
    """Storage refused an upload or a download through a presigned URL (S3's own error code and message)."""

    def __init__(self, action: str, status: int, code: str, message: str) -> None:
        self.status = status
        self.code = code
        self.message = message
        super().__init__(f"the {action} was refused: {status} {code}: {message}")


class JobFailedError(ImageJobsError):
    """A job ended `failed`: `code` is its stable error code (`corrupt_image`, `too_many_pixels`, …)."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.code = job.error.code if job.error else "internal"
        self.message = job.error.message if job.error else ""
        super().__init__(f"job {job.id} failed: {self.code}: {self.message}")


class WaitTimeoutError(ImageJobsError):
    """A job or batch had not ended when the client stopped waiting."""

    def __init__(self, what: str, status: str, seconds: float) -> None:
        self.status = status
        super().__init__(f"{what} was still {status} after {seconds:g} s")


class WebhookVerificationError(ImageJobsError):
    """A callback whose signature, timestamp or headers do not verify with the secret."""
