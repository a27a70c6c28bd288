"""Functional tests: the real handlers in-process, on moto server, with every resource, route,
environment variable and event source read from template.yaml (through the local stack, with
its queue pollers off so each test moves the queues itself)."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from devstack.stack import Stack
from imagejobs.services import accounts, processing
from tests.conftest import IAM_RECORDS, free_port


@dataclass
class Client:
    """The API as a tenant sees it, over HTTP."""

    stack: Stack
    key: str

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"X-API-Key": self.key, **kwargs.pop("headers", {})}
        return requests.request(method, f"{self.stack.api_url}{path}", headers=headers, timeout=30, **kwargs)

    def post(self, path: str, body: Any, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, json=body, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    local = Stack(
        api_key="ij_functional_tests",
        api_port=free_port(),
        aws_port=free_port(),
        parameters={
            "CallbackRetryDelays": "1",  # callback retries a second apart, not minutes
            # Connected buckets, the development tenant granted each whole (tests/functional/test_buckets.py).
            "ConnectedBuckets": "local-media,media,vanishing",
            "ConnectedReadOnlyBuckets": "originals,versioned-media",
        },
        poll=False,
        iam_records=Path(os.environ[IAM_RECORDS]),  # every function under its own role (tests/conftest.py)
    ).start()
    yield local
    local.stop()


@pytest.fixture(scope="session")
def api(stack: Stack) -> Client:
    return Client(stack, stack.api_key)


@pytest.fixture(scope="session")
def other_tenant(stack: Stack) -> Client:
    tenant = accounts.create_tenant("another tenant")
    return Client(stack, accounts.create_key(tenant.id, "theirs"))


def upload(client: Client, data: bytes, content_type: str = "image/jpeg", filename: str = "photo.jpg") -> str:
    """Uploads through a presigned POST form, as a browser or curl would; returns the upload id."""
    form = client.post("/uploads", {"filename": filename, "content_type": content_type}).json()
    sent = requests.post(form["url"], data=form["fields"], files={"file": (filename, data, content_type)}, timeout=30)
    assert sent.status_code == 204, sent.text
    return str(form["upload_id"])


def drain(stack: Stack, rounds: int = 20) -> None:
    """Runs the queue pollers until every queue is empty (what Lambda's event sources do)."""
    for _ in range(rounds):
        if sum(poller.poll_once(wait_seconds=0) for poller in stack.pollers) == 0:
            return
    raise AssertionError("the queues did not drain")


def discard(stack: Stack) -> None:
    """Empties every queue without running anything: for tests that deliver messages themselves."""
    sqs = stack.client("sqs")
    for poller in stack.pollers:
        while messages := sqs.receive_message(QueueUrl=poller.queue_url, MaxNumberOfMessages=10).get("Messages", []):
            for message in messages:
                sqs.delete_message(QueueUrl=poller.queue_url, ReceiptHandle=message["ReceiptHandle"])


def drain_until(stack: Stack, done: Callable[[], bool], timeout: float = 20) -> None:
    """Drains the queues again and again (delayed messages come back) until `done()`."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError("the queues did not bring what the test waits for")
        drain(stack)
        time.sleep(0.2)


def written_lines(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """The JSON lines the service's logger writes from now on, as it writes them (in the writing thread)."""
    lines: list[dict] = []
    formatter = processing.logger.registered_formatter

    class Written(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(json.loads(formatter.format(record)))

    target = logging.getLogger(processing.logger.name)
    monkeypatch.setattr(target, "handlers", [*target.handlers, Written()])  # as they were after the test
    return lines
