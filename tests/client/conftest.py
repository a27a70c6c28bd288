"""A scripted API on loopback, for what the local stack cannot be made to answer on demand (429s,
proxies' 502s, an API with or without long-polling)."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

IMAGEJOBS = Path(sys.executable).parent / "imagejobs"  # the console script pip made from clients/python


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic()

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int
    body: Any = None  # JSON, or bytes as they are
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering


@dataclass
class FakeAPI:
    """Answers each request with the next reply for its `METHOD /path` (the last one repeats), or
    with what `respond(seen)` returns when that is set."""

    replies: dict[str, list[Reply]] = field(default_factory=dict)
    respond: Callable[[Seen], Reply] | None = None
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> FakeAPI:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._handle()

            def do_POST(self) -> None:
                self._handle()

            def do_DELETE(self) -> None:
                self._handle()

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                seen = Seen(
                    self.command,
                    parts.path,
                    parse_qs(parts.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                    time.monotonic(),
                )
                with fake.lock:
                    fake.seen.append(seen)
                    reply = fake.respond(seen) if fake.respond else fake._next(f"{self.command} {parts.path}")
                time.sleep(reply.delay)
                payload = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
                self.send_response(reply.status)
                for name, value in {"Content-Type": "application/json", **reply.headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def _next(self, route: str) -> Reply:
        queue = self.replies.get(route)
        if not queue:
            return Reply(404, {"error": {"code": "not_found", "message": f"no reply for {route}", "details": []}})
        return queue.pop(0) if len(queue) > 1 else queue[0]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_api() -> Iterator[FakeAPI]:
    server = FakeAPI().start()
    yield server
    server.stop()


def job_document(job_id: str = "job_1", status: str = "queued", **fields: Any) -> dict[str, Any]:
    return {
        "id": job_id,
        "status": status,
        "created_at": "2026-01-01T00:00:00Z",
        "expires_at": "2026-01-02T00:00:00Z",
        "source": {"upload_id": "upl_1"},
        "outputs": [],
        "error": None,
        "attempts": 0,
        "metadata": {},
        **fields,
    }
