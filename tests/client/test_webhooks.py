"""Verifying callbacks, in the library and with `imagejobs listen`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from standardwebhooks import Webhook

from imagejobs_client import WebhookVerificationError, WebhookVerifier, verify_webhook
from tests.client.conftest import IMAGEJOBS, job_document

SECRET = "whsec_" + "c2VjcmV0LWZvci10aGUtY2xpZW50LXRlc3Rz"
OTHER = "whsec_" + "YW5vdGhlci10ZW5hbnRzLXNlY3JldA=="


def signed(
    event: dict, secret: str = SECRET, at: datetime | None = None, webhook_id: str = "msg_1"
) -> tuple[bytes, dict]:
    """A callback as the API sends it: the body and its Standard Webhooks headers."""
    body = json.dumps(event)
    when = at or datetime.now(tz=UTC)
    signature = Webhook(secret).sign(webhook_id, when, body)
    headers = {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": signature,
    }
    return body.encode(), headers


SUCCEEDED = {"type": "job.succeeded", "data": job_document("job_9", "succeeded", metadata={"order": "1234"})}


def test_a_genuine_callback_verifies_into_its_event_and_job() -> None:
    body, headers = signed(SUCCEEDED)

    event = verify_webhook(body, headers, SECRET)

    assert (event.id, event.type) == ("msg_1", "job.succeeded")
    assert (event.job.id, event.job.status, event.job.metadata) == ("job_9", "succeeded", {"order": "1234"})
    with pytest.raises(TypeError):
        _ = event.batch


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        pytest.param(lambda body, headers: (body.replace(b"1234", b"9999"), headers), "No matching", id="body"),
        pytest.param(lambda body, headers: (body, {**headers, "webhook-id": "msg_2"}), "No matching", id="id"),
        pytest.param(
            lambda body, headers: (body, {k: v for k, v in headers.items() if k != "webhook-id"}), "Missing", id="no-id"
        ),
        pytest.param(lambda body, headers: (body, {**headers, "webhook-signature": "v1"}), None, id="no-comma"),
        pytest.param(
            lambda body, headers: (body, {**headers, "webhook-signature": "v1,@@not base64@@"}), None, id="not-base64"
        ),
    ],
)
def test_a_changed_or_malformed_callback_is_refused(change, reason: str | None) -> None:
    body, headers = change(*signed(SUCCEEDED))

    with pytest.raises(WebhookVerificationError, match=reason):
        verify_webhook(body, headers, SECRET)


def test_another_secret_or_an_old_timestamp_is_refused() -> None:
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        verify_webhook(*signed(SUCCEEDED, secret=OTHER), SECRET)
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify_webhook(*signed(SUCCEEDED, at=datetime.now(tz=UTC) - timedelta(minutes=10)), SECRET)


def test_a_secret_that_is_not_one_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="not a webhook secret"):
        WebhookVerifier("whsec_")


def test_listen_prints_genuine_events_and_refuses_forged_ones() -> None:
    # GIVEN `imagejobs listen` on a free port, stopping after one event
    listener = subprocess.Popen(
        [str(IMAGEJOBS), "listen", "--port", "0", "--count", "1", "--json"],
        env={**os.environ, "IMAGEJOBS_WEBHOOK_SECRET": SECRET},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert listener.stderr is not None
        started = re.search(r"listening on (http://127\.0\.0\.1:\d+/)", listener.stderr.readline())
        assert started, "listen did not say where it listens"
        url = started.group(1) + "hooks/images"

        # WHEN a forged callback and then a genuine one arrive
        forged = httpx.post(url, content=signed(SUCCEEDED, secret=OTHER)[0], headers=signed(SUCCEEDED, secret=OTHER)[1])
        body, headers = signed(SUCCEEDED)
        genuine = httpx.post(url, content=body, headers=headers)
        out, err = listener.communicate(timeout=10)
    finally:
        if listener.poll() is None:
            listener.kill()
            listener.wait()

    # THEN the forgery was answered 401 and reported, the genuine one 204 and printed, and it stopped
    assert (forged.status_code, genuine.status_code) == (401, 204)
    assert "refused: POST /hooks/images" in err
    assert "No matching signature" in err
    [line] = out.splitlines()
    printed = json.loads(line)
    assert (printed["webhook_id"], printed["type"], printed["data"]["id"]) == ("msg_1", "job.succeeded", "job_9")
    assert listener.returncode == 0


def test_listen_without_a_secret_says_how_to_give_one(tmp_path) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("IMAGEJOBS_")}
    started = time.monotonic()
    result = subprocess.run(
        [str(IMAGEJOBS), "listen", "--port", "0"],
        env={**environment, "XDG_CONFIG_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )

    assert result.returncode == 2
    assert "IMAGEJOBS_WEBHOOK_SECRET" in result.stderr
    assert time.monotonic() - started < 10
