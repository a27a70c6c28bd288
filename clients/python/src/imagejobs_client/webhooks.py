"""Verifying the API's callbacks, signed per Standard Webhooks with the tenant's `whsec_…` secret.

event = verify_webhook(request_body, request_headers, "whsec_…")   # raises unless it is genuine
if event.type == "job.succeeded":
    job = event.job
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook
from standardwebhooks.webhooks import WebhookVerificationError as _StandardError

from imagejobs_client.errors import WebhookVerificationError
from imagejobs_client.models import Batch, Job


@dataclass(frozen=True)
class WebhookEvent:
    """A verified callback: `type` is job.succeeded, job.failed or batch.completed."""

    id: str  # the webhook-id header: the same on every retry of one delivery, to drop repeats
    timestamp: datetime
    type: str
    data: dict[str, Any] = field(repr=False)

    @property
    def job(self) -> Job:
        """The job document of a job.* event."""
        if not self.type.startswith("job."):
            raise TypeError(f"a {self.type} event carries no job")
        return Job.from_json(self.data)

    @property
    def batch(self) -> Batch:
        """The batch document of a batch.* event."""
        if not self.type.startswith("batch."):
            raise TypeError(f"a {self.type} event carries no batch")
        return Batch.from_json(self.data)


class WebhookVerifier:
    """Checks callbacks against one secret; a callback older or newer than 5 minutes is refused."""

    def __init__(self, secret: str) -> None:
        try:
            self._webhook = Webhook(secret)
        except (EmptyWebhookSecretError, binascii.Error) as error:
            raise ValueError(f"not a webhook secret (whsec_ and base64): {error}") from error

    def verify(self, body: bytes | str, headers: Mapping[str, str]) -> WebhookEvent:
        """The event, once its signature, id and timestamp verify; else WebhookVerificationError."""
        try:
            self._webhook.verify(body, dict(headers), json_parse=False)
        except (_StandardError, ValueError, binascii.Error) as error:  # ValueError: a malformed signature header
            raise WebhookVerificationError(str(error) or type(error).__name__) from error
        lower = {key.lower(): value for key, value in headers.items()}
        try:
            event = json.loads(body)
        except json.JSONDecodeError as error:
            raise WebhookVerificationError(f"a signed body that is not JSON: {error}") from error
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            raise WebhookVerificationError('a signed body that is not {"type", "data"}')
        return WebhookEvent(
            id=lower["webhook-id"],
            timestamp=datetime.fromtimestamp(float(lower["webhook-timestamp"]), tz=UTC),
            type=event["type"],
            data=event.get("data") or {},
        )


def verify_webhook(body: bytes | str, headers: Mapping[str, str], secret: str) -> WebhookEvent:
    """The callback's event if it was signed with `secret`; raises WebhookVerificationError if not."""
    return WebhookVerifier(secret).verify(body, headers)
