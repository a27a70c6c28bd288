"""net.fetch, the reader of URL sources: redirects re-checked hop by hop, a size cap, clear failures.

Everything runs against a server on 127.0.0.1; names are answered by a stub resolver, so no test
resolves a real name or sends a packet off the machine.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from imagejobs import net
from imagejobs.errors import SourceFetchFailedError, TooLargeError
from tests.conftest import Trickler, slow_image

IMAGE = b"\x89PNG\r\n\x1a\n" + b"pixels" * 1000


class Origin:
    """Serves /image, /big (no Content-Length), /missing, /hop/<n> (redirect chains) and /away?to=URL."""

    def __init__(self) -> None:
        origin = self
        self.requests: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_GET(self) -> None:
                origin.requests.append(self.path)
                if self.path == "/image":
                    self._send(200, IMAGE, {"Content-Type": "image/png", "Content-Length": str(len(IMAGE))})
                elif self.path == "/big":
                    self._send(200, b"x" * 300_000, {"Content-Type": "image/png"})
                elif self.path.startswith("/hop/"):
                    left = int(self.path.rsplit("/", 1)[1])
                    location = "/image" if left == 0 else f"/hop/{left - 1}"
                    self._send(302, b"", {"Location": location})
                elif self.path.startswith("/away?to="):
                    self._send(307, b"", {"Location": self.path.removeprefix("/away?to=")})
                else:
                    self._send(404, b"no", {})

            def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"


@pytest.fixture
def origin() -> Iterator[Origin]:
    server = Origin()
    yield server
    server.server.shutdown()
    server.server.server_close()


def by_name(**names: str) -> net.Resolver:
    table = {"127.0.0.1": "127.0.0.1", **{name.replace("_", "."): address for name, address in names.items()}}
    return lambda host, _port: [table[host]] if host in table else []


def test_an_image_is_fetched_with_its_content_type(origin: Origin) -> None:
    fetched = net.fetch(origin.url("/image"), max_bytes=len(IMAGE), allow_loopback=True, resolver=by_name())

    assert fetched.data == IMAGE
    assert fetched.content_type == "image/png"


def test_up_to_five_redirects_are_followed(origin: Origin) -> None:
    fetched = net.fetch(origin.url("/hop/4"), max_bytes=10**6, allow_loopback=True, resolver=by_name())

    assert fetched.data == IMAGE
    assert fetched.url == origin.url("/image")
    assert origin.requests == ["/hop/4", "/hop/3", "/hop/2", "/hop/1", "/hop/0", "/image"]


def test_a_sixth_redirect_fails_the_fetch(origin: Origin) -> None:
    with pytest.raises(SourceFetchFailedError, match="more than 5 redirects"):
        net.fetch(origin.url("/hop/5"), max_bytes=10**6, allow_loopback=True, resolver=by_name())

    assert "/image" not in origin.requests


@pytest.mark.parametrize(
    ("destination", "reason"),
    [
        ("https://internal.example.test/admin", "non-public address (10.0.0.1)"),
        ("https://metadata.example.test/latest/meta-data/", "non-public address (169.254.169.254)"),
        ("http://10.0.0.1/", "must use https"),
        ("file:///etc/passwd", "must be https"),
    ],
)
def test_a_redirect_to_a_private_destination_is_refused_before_connecting(
    origin: Origin, destination: str, reason: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    resolver = by_name(internal_example_test="10.0.0.1", metadata_example_test="169.254.169.254")
    connected: list[str] = []
    original = net._connection

    def watched(target: net.Target, address: str, clock: object) -> object:
        connected.append(address)
        return original(target, address, clock)  # type: ignore[arg-type]

    monkeypatch.setattr(net, "_connection", watched)

    with pytest.raises(SourceFetchFailedError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        net.fetch(origin.url(f"/away?to={destination}"), max_bytes=10**6, allow_loopback=True, resolver=resolver)

    assert connected == ["127.0.0.1"]  # the first hop only


def test_a_body_over_the_limit_is_refused_by_its_content_length(origin: Origin) -> None:
    with pytest.raises(TooLargeError):
        net.fetch(origin.url("/image"), max_bytes=len(IMAGE) - 1, allow_loopback=True, resolver=by_name())


def test_a_body_over_the_limit_without_a_length_is_refused_while_reading(origin: Origin) -> None:
    with pytest.raises(TooLargeError, match="larger than the limit of 100000 bytes"):
        net.fetch(origin.url("/big"), max_bytes=100_000, allow_loopback=True, resolver=by_name())


def test_an_error_status_fails_the_fetch_with_it(origin: Origin) -> None:
    with pytest.raises(SourceFetchFailedError, match="answered 404") as caught:
        net.fetch(origin.url("/missing"), max_bytes=10**6, allow_loopback=True, resolver=by_name())

    assert caught.value.code == "source_fetch_failed"


def test_an_unsafe_url_fails_the_fetch_without_resolving_or_connecting(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []
    monkeypatch.setattr(net, "_connection", lambda *args: pytest.fail("a connection was attempted"))

    with pytest.raises(SourceFetchFailedError, match="must use https"):
        net.fetch(
            "http://images.example.test/a.jpg",
            max_bytes=10,
            allow_loopback=False,
            resolver=lambda host, port: asked.append(host) or [],
        )

    assert asked == []


def test_a_server_that_does_not_answer_fails_the_fetch(monkeypatch: pytest.MonkeyPatch) -> None:
    with ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as silent:  # bound, never served
        url = f"http://127.0.0.1:{silent.server_address[1]}/a.jpg"
        with pytest.raises(SourceFetchFailedError, match=r"too slow: it sent nothing for 0\.5 s"):
            net.fetch(
                url, max_bytes=10, allow_loopback=True, budget=net.Budget(5, idle_seconds=0.5), resolver=by_name()
            )


# ---- a budget: a server that sends slowly is cut off -----------------------------------------


def timed_fetch(url: str, budget: net.Budget) -> tuple[SourceFetchFailedError, float]:
    started = time.monotonic()
    with pytest.raises(SourceFetchFailedError) as caught:
        net.fetch(url, max_bytes=50_000_000, allow_loopback=True, budget=budget, resolver=by_name())
    return caught.value, time.monotonic() - started


def test_a_body_sent_slower_than_the_minimum_rate_fails_once_the_grace_period_is_over(trickler: Trickler) -> None:
    # GIVEN a server sending an image at about 2 kB/s, each piece well within the idle timeout
    trickler.reply, trickler.piece, trickler.every = slow_image(100_000), 100, 0.05
    budget = net.Budget(total_seconds=10, idle_seconds=2, min_bytes_per_second=50_000, grace_seconds=1)
    # WHEN it is fetched
    error, elapsed = timed_fetch(f"{trickler.url}/a.png", budget)
    # THEN the fetch fails for its rate just after the grace period, not at the deadline
    assert error.code == "source_fetch_failed"
    assert "too slow: it sent" in error.message
    assert "the least is 50 kB/s" in error.message
    assert 1 <= elapsed < 3


def test_a_body_that_keeps_a_fair_rate_still_ends_at_the_total_deadline(trickler: Trickler) -> None:
    # GIVEN a server sending 10 MB at about 1 MB/s: above the minimum rate, but for 10 s
    trickler.reply, trickler.piece, trickler.every = slow_image(10_000_000), 20_000, 0.02
    budget = net.Budget(total_seconds=1.5, idle_seconds=1, min_bytes_per_second=1000, grace_seconds=0.5)
    # WHEN it is fetched
    error, elapsed = timed_fetch(f"{trickler.url}/a.png", budget)
    # THEN the fetch ends at the total deadline
    assert "too slow: it took longer than 1.5 s" in error.message
    assert 1.5 <= elapsed < 2.5


def test_headers_sent_a_byte_at_a_time_end_at_the_total_deadline(trickler: Trickler) -> None:
    # GIVEN a server that sends its status line and headers a byte every 0.2 s (each read is quick:
    # a per-read timeout alone would wait for the whole answer, about 15 s here)
    trickler.reply, trickler.piece, trickler.every = slow_image(10), 1, 0.2
    budget = net.Budget(total_seconds=1.5, idle_seconds=1)
    # WHEN it is fetched
    error, elapsed = timed_fetch(f"{trickler.url}/a.png", budget)
    # THEN the fetch ends at the deadline, with the headers still incomplete
    assert "too slow: it took longer than 1.5 s" in error.message
    assert 1.5 <= elapsed < 2.5


def test_the_total_deadline_covers_every_redirect(origin: Origin, trickler: Trickler) -> None:
    # GIVEN a redirect to a server that answers slowly
    trickler.reply, trickler.piece, trickler.every = slow_image(10), 1, 0.2
    budget = net.Budget(total_seconds=1.5, idle_seconds=1)
    # WHEN the redirect is fetched
    error, elapsed = timed_fetch(origin.url(f"/away?to={trickler.url}/a.png"), budget)
    # THEN the one deadline ends it
    assert "took longer than 1.5 s" in error.message
    assert elapsed < 2.5
    assert origin.requests == [f"/away?to={trickler.url}/a.png"]


def test_a_body_sent_in_time_is_read_whole(trickler: Trickler) -> None:
    # GIVEN a server sending 200 kB in 20 pieces over about a second: faster than the minimum rate
    trickler.reply, trickler.piece, trickler.every = slow_image(200_000), 10_000, 0.05
    budget = net.Budget(total_seconds=5, idle_seconds=1, min_bytes_per_second=50_000, grace_seconds=0.5)
    # WHEN it is fetched
    fetched = net.fetch(f"{trickler.url}/a.png", max_bytes=200_000, allow_loopback=True, budget=budget)
    # THEN every byte arrives
    assert fetched.data == slow_image(200_000).split(b"\r\n\r\n", 1)[1]
    assert fetched.content_type == "image/png"
