"""A local receiver of callbacks: verifies each POST's signature and hands the event on.

A genuine callback is answered 204 and given to `on_event`; one that does not verify is answered
401 (so the API retries it, as it would with a real endpoint) and described to `on_refused`.
"""

from __future__ import annotations

from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from imagejobs_client.errors import WebhookVerificationError
from imagejobs_client.webhooks import WebhookEvent, WebhookVerifier

MAX_BODY = 1024 * 1024  # callbacks carry a job or batch document, far below this


def serve(
    verifier: WebhookVerifier,
    host: str,
    port: int,
    on_event: Callable[[WebhookEvent], None],
    on_refused: Callable[[str], None],
) -> ThreadingHTTPServer:
    """A server bound to host:port (0 picks a free port), not yet serving: call serve_forever()."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "imagejobs-listen"

        def do_POST(self) -> None:
            declared = self.headers.get("Content-Length") or "0"
            length = int(declared) if declared.isdigit() else -1
            if length < 0:
                self._answer(400)
                on_refused(f"POST {self.path}: Content-Length {declared!r}")
                return
            if length > MAX_BODY:
                self._answer(413)
                on_refused(f"POST {self.path}: a body of {length} bytes")
                return
            body = self.rfile.read(length)
            try:
                event = verifier.verify(body, dict(self.headers.items()))
            except WebhookVerificationError as error:
                self._answer(401)
                on_refused(f"POST {self.path} from {self.client_address[0]}: {error}")
                return
            self._answer(204)
            on_event(event)

        def do_GET(self) -> None:
            self._answer(405)

        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass  # the command prints what it received

    return ThreadingHTTPServer((host, port), Handler)
