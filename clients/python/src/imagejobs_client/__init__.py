"""imagejobs_client: a typed client of the imagejobs API, and the `imagejobs` command.

from imagejobs_client import Client

with Client() as client:  # IMAGEJOBS_URL and IMAGEJOBS_API_KEY, the config file, or the local stack
    result = client.run("photo.jpg", preset="og-image", out="out/")
"""

from imagejobs_client._version import __version__
from imagejobs_client.client import BatchResult, Client, RunResult
from imagejobs_client.config import Config
from imagejobs_client.errors import (
    APIError,
    AuthenticationError,
    ConflictError,
    ErrorDetail,
    ImageJobsError,
    InvalidRequestError,
    JobFailedError,
    NotFoundError,
    RateLimitError,
    ServerError,
    StorageError,
    TransportError,
    WaitTimeoutError,
    WebhookVerificationError,
)
from imagejobs_client.models import (
    Analysis,
    Batch,
    BatchCreated,
    FailedJob,
    Job,
    JobError,
    JobPage,
    Output,
    PaletteColour,
    UploadForm,
)
from imagejobs_client.outputs import parse_output
from imagejobs_client.webhooks import WebhookEvent, WebhookVerifier, verify_webhook

__all__ = [
    "APIError",
    "Analysis",
    "AuthenticationError",
    "Batch",
    "BatchCreated",
    "BatchResult",
    "Client",
    "Config",
    "ConflictError",
    "ErrorDetail",
    "FailedJob",
    "ImageJobsError",
    "InvalidRequestError",
    "Job",
    "JobError",
    "JobFailedError",
    "JobPage",
    "NotFoundError",
    "Output",
    "PaletteColour",
    "RateLimitError",
    "RunResult",
    "ServerError",
    "StorageError",
    "TransportError",
    "UploadForm",
    "WaitTimeoutError",
    "WebhookEvent",
    "WebhookVerificationError",
    "WebhookVerifier",
    "__version__",
    "parse_output",
    "verify_webhook",
]
