"""End to end: `python -m devstack` (what `make run` starts) in a subprocess, driven over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class LocalStack:
    api_url: str
    api_key: str
    webhook_secret: str
    port: int
    aws_port: int
    log: Path

    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.api_key}


@contextmanager
def running_stack(log: Path, overrides: str) -> Iterator[LocalStack]:
    """`python -m devstack` with these template parameter overrides, until the block ends."""
    port, aws_port = free_port(), free_port()
    stack = LocalStack(
        api_url=f"http://127.0.0.1:{port}/v1",
        api_key="ij_e2e_key",
        webhook_secret="whsec_" + "c2VjcmV0LWZvci10aGUtZTJlLXRlc3RzLW9ubHk=",
        port=port,
        aws_port=aws_port,
        log=log,
    )
    environment = {
        **os.environ,
        "IMAGEJOBS_PORT": str(port),
        "IMAGEJOBS_AWS_PORT": str(aws_port),
        "IMAGEJOBS_API_KEY": stack.api_key,
        "IMAGEJOBS_WEBHOOK_SECRET": stack.webhook_secret,
        "IMAGEJOBS_PARAMETER_OVERRIDES": overrides,
    }
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "devstack"], cwd=ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 60
            while "imagejobs is running" not in log.read_text():
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the local stack did not start:\n{log.read_text()}")
                time.sleep(0.2)
            yield stack
        finally:
            process.terminate()
            process.wait(timeout=60)  # it joins its threads, each for up to 5 s, and moto


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """The stack as `make run` starts it, but for callback retries a second apart."""
    with running_stack(tmp_path_factory.mktemp("devstack") / "devstack.log", "CallbackRetryDelays=1") as stack:
        yield stack


def wait_for_job(stack: LocalStack, job_id: str, timeout: float = 60, headers: dict[str, str] | None = None) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sent = stack.headers() if headers is None else headers
        job = requests.get(f"{stack.api_url}/jobs/{job_id}", headers=sent, timeout=10).json()
        if job["status"] in ("succeeded", "failed"):
            return dict(job)
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s")
