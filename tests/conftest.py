"""Fixtures every test level shares: free loopback ports and a callback receiver; and the IAM
check of every local stack the tests start."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from devstack import iam

IAM_RECORDS = "IMAGEJOBS_IAM_RECORDS"
IAM_SUMMARY = pytest.StashKey[iam.Summary]()


def pytest_configure(config: pytest.Config) -> None:
    """Every local stack the tests start, in this process (tests/functional) or as `python -m
    devstack` (tests/e2e, which inherits the environment), runs each function under its own role
    from template.yaml and records its AWS calls here (devstack/iam.py)."""
    os.environ[IAM_RECORDS] = tempfile.mkdtemp(prefix="imagejobs-iam-")


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The run fails if any function made a call its role does not allow, even one the code
    caught; the summary also names what the template grants that no call used."""
    records = Path(os.environ[IAM_RECORDS])
    files = sorted(records.glob("stack-*.jsonl"))
    if files:
        summary = iam.summarize(files)
        session.config.stash[IAM_SUMMARY] = summary
        if summary.refused and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
    shutil.rmtree(records, ignore_errors=True)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    summary = config.stash.get(IAM_SUMMARY, None)
    if summary is not None:
        terminalreporter.section("least privilege: each function's AWS calls against its role (devstack/iam.py)")
        for line in summary.lines():
            terminalreporter.write_line(line)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class CallbackReceiver:
    """An HTTP server on loopback that records POSTs and answers with the statuses it is given."""

    statuses: list[int] = field(default_factory=list)  # answered in order; 200 once they run out
    deliveries: list[Delivery] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def start(self) -> CallbackReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                with receiver.arrived:
                    receiver.deliveries.append(
                        Delivery(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    receiver.arrived.notify_all()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/images"

    def wait_for(self, count: int, timeout: float = 30) -> list[Delivery]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.deliveries) >= count, timeout=timeout)
        return list(self.deliveries)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[CallbackReceiver]:
    server = CallbackReceiver().start()
    yield server
    server.stop()


PHOTO = (Path(__file__).resolve().parents[1] / "samples" / "photo.jpg").read_bytes()


@pytest.fixture
def origin() -> Iterator[str]:
    """An image server on loopback: any path answers samples/photo.jpg, but /to?url=… redirects there."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/to?url="):
                self.send_response(302)
                self.send_header("Location", self.path.removeprefix("/to?url="))
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(PHOTO)))
            self.end_headers()
            self.wfile.write(PHOTO)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
