"""Fixtures every test level shares: free loopback ports, a callback receiver, an image server and
a slow one; and the IAM check of every local stack the tests start."""

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


@dataclass
class Trickler:
    """A server on loopback that reads each request, then sends `reply` (the whole HTTP answer,
    status line included) `piece` bytes at a time, one piece every `every` seconds."""

    reply: bytes
    piece: int = 1
    every: float = 0.1
    connections: int = 0

    def start(self) -> Trickler:
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except OSError:  # closed by stop()
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        with connection:
            request = b""
            while b"\r\n\r\n" not in request and (data := connection.recv(65536)):
                request += data
            head, _, body = request.partition(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":")[1])
                    for line in head.lower().split(b"\r\n")
                    if line.startswith(b"content-length:")
                ),
                0,
            )
            while len(body) < length and (data := connection.recv(65536)):
                body += data
            for start in range(0, len(self.reply), self.piece):
                if self._stop.wait(self.every):
                    return
                try:
                    connection.sendall(self.reply[start : start + self.piece])
                except OSError:  # the client gave up
                    return

    def stop(self) -> None:
        self._stop.set()
        self._listener.close()


def slow_image(size: int) -> bytes:
    """An HTTP answer carrying `size` bytes of a PNG's signature and zeros."""
    body = (b"\x89PNG\r\n\x1a\n" + bytes(size))[:size]
    return b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: %d\r\n\r\n%s" % (size, body)


@pytest.fixture
def trickler() -> Iterator[Trickler]:
    """A slow server: give it its `reply`, `piece` and `every` before use."""
    server = Trickler(b"").start()
    yield server
    server.stop()
