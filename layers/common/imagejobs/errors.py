"""Domain errors. Each carries a stable code, a public message and the HTTP status it maps to.

API errors are mapped to the SPEC §2 error body once, in `imagejobs.api`. Job errors (`JobError`)
end a job as failed with their code; they are never retried.
"""

from __future__ import annotations

from typing import Any


class ImageJobsError(Exception):
    status: int = 500
    code: str = "internal"

    def __init__(self, message: str, *, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class RequestValidationError(ImageJobsError):
    status = 422
    code = "invalid_request"

    @classmethod
    def at(cls, path: str, message: str) -> RequestValidationError:
        """The error of one field."""
        return cls(f"{path}: {message}", details=[{"path": path, "message": message}])


class MalformedRequestError(ImageJobsError):
    status = 400
    code = "malformed_request"


class AuthenticationError(ImageJobsError):
    status = 401
    code = "unauthorized"


class NotFoundError(ImageJobsError):
    status = 404
    code = "not_found"


class ConflictError(ImageJobsError):
    status = 409
    code = "conflict"


class JobError(ImageJobsError):
    """Ends a job as failed, with a stable code (SPEC §2)."""

    status = 422


class SourceNotFoundError(JobError):
    code = "source_not_found"


class UnsupportedFormatError(JobError):
    status = 415
    code = "unsupported_format"


class CorruptImageError(JobError):
    code = "corrupt_image"


class TooManyPixelsError(JobError):
    code = "too_many_pixels"


class TooLargeError(JobError):
    status = 413
    code = "too_large"


class SourceFetchFailedError(JobError):
    code = "source_fetch_failed"


class DeadlineExceededError(JobError):
    code = "timeout"


class TargetSizeUnreachableError(JobError):
    code = "target_size_unreachable"


class NotGrantedError(JobError):
    """The tenant's grant for a connected bucket was revoked between the job's creation and its run."""

    code = "not_granted"


class DestinationExistsError(JobError):
    code = "destination_exists"


class DestinationWriteFailedError(JobError):
    code = "destination_write_failed"
