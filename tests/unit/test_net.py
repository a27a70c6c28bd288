"""imagejobs.net: outbound HTTP that refuses URLs pointing into the service's own network.

No test here sends a packet off the machine: names are answered by stub resolvers, the only real
resolutions are of numeric literals (no DNS), and the only connections are to loopback servers.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from imagejobs import net
from imagejobs.net import UnsafeUrlError
from tests.conftest import CallbackReceiver, Trickler

PUBLIC_V4 = "93.184.215.14"
PUBLIC_V6 = "2606:4700::1111"
HOOK = "https://hooks.example.test/images"


class StubResolver:
    """Answers every name with fixed addresses (or raises), and records what it was asked."""

    def __init__(self, *addresses: str, error: Exception | None = None) -> None:
        self.addresses = list(addresses)
        self.error = error
        self.calls: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        if self.error is not None:
            raise self.error
        return list(self.addresses)


@pytest.fixture
def no_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fails the test if anything tries to open a connection (pytest.fail is not an OSError: nothing catches it)."""

    def refuse(*args: object, **kwargs: object) -> None:
        pytest.fail(f"a connection was attempted: {args!r}")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(http.client.HTTPConnection, "connect", refuse)


def refused(url: str, resolver: Callable[[str, int], list[str]], *, allow_loopback: bool = False) -> UnsafeUrlError:
    with pytest.raises(UnsafeUrlError) as caught:
        net.post(url, b"{}", {"Content-Type": "application/json"}, allow_loopback=allow_loopback, resolver=resolver)
    assert caught.value.code == "unsafe_url"
    assert caught.value.status == 422
    return caught.value


# ---- the URL's form: refused before any name is resolved ------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.test/images",
        "ftp://hooks.example.test/images",
        "file:///etc/passwd",
        "gopher://hooks.example.test:70/_",
        "https:///images",
        "hooks.example.test/images",
    ],
)
def test_a_url_that_is_not_https_to_a_host_is_refused_before_resolving(url: str, no_connections: None) -> None:
    resolver = StubResolver(PUBLIC_V4)
    refused(url, resolver)
    assert resolver.calls == []


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/hooks", "http://localhost:8080/hooks", "http://[::1]:8080/"])
def test_http_to_loopback_is_refused_unless_loopback_is_allowed(url: str, no_connections: None) -> None:
    resolver = StubResolver("127.0.0.1")
    refused(url, resolver, allow_loopback=False)
    assert resolver.calls == []


def test_http_to_a_name_that_is_not_loopback_is_refused_even_where_loopback_is_allowed(
    no_connections: None,
) -> None:
    # The host must *name* loopback for plain http; what the name resolves to is not asked.
    resolver = StubResolver("127.0.0.1")
    refused("http://hooks.example.test/images", resolver, allow_loopback=True)
    assert resolver.calls == []


def test_http_to_localhost_that_resolves_to_a_public_address_is_refused(no_connections: None) -> None:
    refused("http://localhost:8080/hooks", StubResolver(PUBLIC_V4), allow_loopback=True)


@pytest.mark.parametrize(
    "url",
    [
        "https://user:secret@hooks.example.test/images",
        "https://user@hooks.example.test/images",
        "https://:secret@hooks.example.test/images",
        "https://hooks.example.test@169.254.169.254/latest/meta-data/",
    ],
)
def test_a_url_with_credentials_is_refused(url: str, no_connections: None) -> None:
    resolver = StubResolver(PUBLIC_V4)
    refused(url, resolver)
    assert resolver.calls == []


@pytest.mark.parametrize("port", ["0", "99999", "65536", "abc", "-1", "44 3"])
def test_a_url_with_a_bad_port_is_refused(port: str, no_connections: None) -> None:
    resolver = StubResolver(PUBLIC_V4)
    refused(f"https://hooks.example.test:{port}/images", resolver)
    assert resolver.calls == []


@pytest.mark.parametrize("url", ["https://[::1/images", "https://[hooks.example.test]/images"])
def test_a_url_with_a_malformed_host_is_refused(url: str, no_connections: None) -> None:
    resolver = StubResolver(PUBLIC_V4)
    refused(url, resolver)
    assert resolver.calls == []


# ---- the addresses a name resolves to -------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        pytest.param("10.0.0.1", id="private-10"),
        pytest.param("172.16.0.1", id="private-172.16"),
        pytest.param("192.168.1.1", id="private-192.168"),
        pytest.param("127.0.0.1", id="loopback"),
        pytest.param("169.254.169.254", id="imds-link-local"),
        pytest.param("::1", id="loopback-v6"),
        pytest.param("fd00:ec2::254", id="imds-v6"),
        pytest.param("fc00::1", id="unique-local-v6"),
        pytest.param("fe80::1%eth0", id="link-local-v6-with-zone"),
        pytest.param("::ffff:10.0.0.1", id="ipv4-mapped-private"),
        pytest.param("::ffff:169.254.169.254", id="ipv4-mapped-imds"),
        pytest.param("64:ff9b::a00:1", id="nat64-of-private"),
        pytest.param("64:ff9b::a9fe:a9fe", id="nat64-of-imds"),
        pytest.param("2002:a00:1::", id="6to4-of-private"),
        pytest.param("::127.0.0.1", id="ipv4-compatible-loopback"),
        pytest.param("::169.254.169.254", id="ipv4-compatible-imds"),
        pytest.param("::ffff:0:127.0.0.1", id="ipv4-translated-loopback"),
        pytest.param("::ffff:0:169.254.169.254", id="ipv4-translated-imds"),
        pytest.param("fec0::1", id="site-local-v6"),
        pytest.param("2001:0:5db8:d70e::f5ff:fffe", id="teredo-of-private"),
        pytest.param("100.64.0.1", id="cgnat"),
        pytest.param("100.100.100.200", id="alibaba-metadata"),
        pytest.param("0.0.0.0", id="unspecified"),
        pytest.param("::", id="unspecified-v6"),
        pytest.param("255.255.255.255", id="broadcast"),
        pytest.param("224.0.0.251", id="multicast"),
        pytest.param("239.255.255.250", id="multicast-ssdp"),
        pytest.param("ff0e::1", id="multicast-v6-global-scope"),
    ],
)
def test_a_host_resolving_to_a_non_public_address_is_refused(address: str, no_connections: None) -> None:
    error = refused(HOOK, StubResolver(address))
    assert "non-public" in error.message


@pytest.mark.parametrize(
    "addresses",
    [[PUBLIC_V4, "10.0.0.1"], ["10.0.0.1", PUBLIC_V4], [PUBLIC_V6, "169.254.169.254"], [PUBLIC_V4, "127.0.0.1"]],
)
def test_a_host_resolving_to_public_and_private_addresses_is_refused(
    addresses: list[str], no_connections: None
) -> None:
    refused(HOOK, StubResolver(*addresses))


def test_loopback_mixed_with_public_is_refused_even_where_loopback_is_allowed(no_connections: None) -> None:
    refused(HOOK, StubResolver("127.0.0.1", PUBLIC_V4), allow_loopback=True)


def test_private_addresses_stay_refused_where_loopback_is_allowed(no_connections: None) -> None:
    refused(HOOK, StubResolver("10.0.0.1"), allow_loopback=True)


def _numeric_or_stub(host: str) -> Callable[[str, int], list[str]]:
    """The system resolver if getaddrinfo reads `host` as a number (AI_NUMERICHOST: no DNS), else a stub."""
    try:
        socket.getaddrinfo(host, 443, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    except socket.gaierror:
        return StubResolver("127.0.0.1")
    return net.system_resolver


@pytest.mark.parametrize("host", ["0x7f000001", "2130706433", "0177.0.0.1", "127.1"])
def test_a_numeric_host_spelling_loopback_is_refused(host: str, no_connections: None) -> None:
    refused(f"https://{host}/latest/meta-data/", _numeric_or_stub(host))


@pytest.mark.parametrize("url", ["https://169.254.169.254/latest/meta-data/", "https://[::1]/", "https://10.0.0.1/"])
def test_an_address_literal_that_is_not_public_is_refused_by_the_system_resolver(
    url: str, no_connections: None
) -> None:
    # Address literals: getaddrinfo parses them, no DNS.
    refused(url, net.system_resolver)


@pytest.mark.parametrize(
    "resolver",
    [
        pytest.param(
            StubResolver(error=socket.gaierror(socket.EAI_NONAME, "Name or service not known")), id="gaierror"
        ),
        pytest.param(StubResolver(), id="no-addresses"),
        pytest.param(StubResolver("not-an-address"), id="garbage-answer"),
    ],
)
def test_a_host_that_does_not_resolve_is_refused(resolver: StubResolver, no_connections: None) -> None:
    error = refused(HOOK, resolver)
    assert "does not resolve" in error.message


# ---- the address decision: global unicast only, IPv4 inside IPv6 judged by the IPv4 ---------


@pytest.mark.parametrize(
    "address",
    [
        pytest.param("::127.0.0.1", id="compatible-loopback"),
        pytest.param("::169.254.169.254", id="compatible-imds"),
        pytest.param("::10.0.0.1", id="compatible-private"),
        pytest.param("::ffff:0:127.0.0.1", id="translated-loopback"),
        pytest.param("::ffff:0:169.254.169.254", id="translated-imds"),
        pytest.param("::ffff:127.0.0.1", id="mapped-loopback"),
        pytest.param("64:ff9b::7f00:1", id="nat64-of-loopback"),
        pytest.param("64:ff9b:1::a9fe:a9fe", id="local-use-nat64"),
        pytest.param("64:ff9b:1:a9fe:a9fe::", id="local-use-nat64-at-48"),
        pytest.param("2002:7f00:1::1", id="6to4-of-loopback"),
        pytest.param("2002:a9fe:a9fe::", id="6to4-of-imds"),
        pytest.param("2001:0:5db8:d70e::f5ff:fffe", id="teredo-with-client-10.0.0.1"),
        pytest.param("2001:0:a00:1::a247:2af1", id="teredo-with-server-10.0.0.1"),
        pytest.param("fec0::1", id="site-local"),
        pytest.param("fec0::a9fe:a9fe", id="site-local-carrying-imds"),
        pytest.param("fe80::a9fe:a9fe", id="link-local-v6"),
        pytest.param("2001:db8::1", id="documentation-v6"),
        pytest.param("3fff::1", id="documentation-v6-rfc9637"),
        pytest.param("5f00::1", id="srv6-sids"),
        pytest.param("100::1", id="discard-only"),
        pytest.param("4000::1", id="unallocated-v6"),
        pytest.param("ff02::1", id="multicast-v6-link-scope"),
        pytest.param("192.0.2.1", id="documentation-v4"),
        pytest.param("198.18.0.1", id="benchmarking"),
        pytest.param("192.88.99.1", id="6to4-relay-anycast"),
        pytest.param("240.0.0.1", id="reserved-v4"),
        pytest.param("169.254.170.2", id="ecs-task-metadata"),
        pytest.param("192.0.0.192", id="oracle-metadata"),
    ],
)
def test_an_address_that_is_not_global_unicast_is_not_public(address: str) -> None:
    assert net.is_public(ipaddress.ip_address(address)) is False


@pytest.mark.parametrize(
    "address",
    [
        pytest.param(PUBLIC_V4, id="public-v4"),
        pytest.param(PUBLIC_V6, id="public-v6"),
        pytest.param(f"::ffff:{PUBLIC_V4}", id="mapped-public"),
        pytest.param(f"::ffff:0:{PUBLIC_V4}", id="translated-public"),
        pytest.param(f"::{PUBLIC_V4}", id="compatible-public"),
        pytest.param("64:ff9b::5db8:d70e", id="nat64-of-public"),
        pytest.param("2002:5db8:d70e::1", id="6to4-of-public"),
        pytest.param("2001:0:5db8:d70e::a2ff:fffe", id="teredo-public-server-and-client"),
    ],
)
def test_a_global_unicast_address_is_public(address: str) -> None:
    assert net.is_public(ipaddress.ip_address(address)) is True


@pytest.mark.parametrize(
    "address", ["169.254.169.254", "fd00:ec2::254", "100.100.100.200", "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe"]
)
def test_cloud_metadata_addresses_are_refused_in_every_form(address: str) -> None:
    assert net.is_public(ipaddress.ip_address(address)) is False


@pytest.mark.parametrize(
    ("address", "reached"),
    [
        ("::ffff:127.0.0.1", "127.0.0.1"),
        ("::ffff:0:127.0.0.1", "127.0.0.1"),
        ("::127.0.0.1", "127.0.0.1"),
        ("::1", "::1"),
        ("::", "::"),
        ("64:ff9b::7f00:1", "64:ff9b::7f00:1"),  # through a gateway: not this host's loopback
    ],
)
def test_on_host_unwraps_the_forms_that_reach_an_ipv4_address_here(address: str, reached: str) -> None:
    assert net.on_host(ipaddress.ip_address(address)) == ipaddress.ip_address(reached)


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("::ffff:0:127.0.0.1", "::ffff:0:7f00:1"),
        ("fe80::1%eth0", "fe80::1"),
        ("hooks.example.test", None),
        ("deadbeef", None),
        ("1e5", None),
        ("127.0.0.1 hooks.example.test", None),
    ],
)
def test_literal_address_reads_the_spellings_the_c_library_reads(host: str, address: str | None) -> None:
    found = net.literal_address(host)
    assert found == (ipaddress.ip_address(address) if address else None)


@pytest.mark.parametrize(
    "url",
    [
        "https://[::127.0.0.1]/",
        "https://[::169.254.169.254]/latest/meta-data/",
        "https://[::ffff:0:127.0.0.1]/",
        "https://[::ffff:0:a9fe:a9fe]/latest/meta-data/",
        "https://[::ffff:169.254.169.254]/",
        "https://[fec0::1]/hooks",
        "https://[64:ff9b::a9fe:a9fe]/",
        "https://[2002:a9fe:a9fe::]/",
        "https://127.1/",
        "https://0xa9fea9fe/latest/meta-data/",
        "https://10.0.0.1:8443/hooks",
    ],
)
def test_a_url_naming_a_non_public_address_is_refused_when_parsed(url: str, no_connections: None) -> None:
    with pytest.raises(UnsafeUrlError, match="non-public address"):
        net.parse(url, allow_loopback=False)
    resolver = StubResolver(PUBLIC_V4)
    refused(url, resolver)
    assert resolver.calls == []


@pytest.mark.parametrize("url", ["http://[::ffff:127.0.0.1]:8080/hooks", "https://[::127.0.0.1]/", "https://127.1/"])
def test_a_loopback_literal_in_any_form_passes_where_loopback_is_allowed(url: str) -> None:
    assert net.parse(url, allow_loopback=True).url == url


@pytest.mark.parametrize("url", ["https://[fec0::1]/", "https://[::169.254.169.254]/", "https://10.0.0.1/"])
def test_a_non_public_literal_stays_refused_where_loopback_is_allowed(url: str) -> None:
    with pytest.raises(UnsafeUrlError, match="non-public address"):
        net.parse(url, allow_loopback=True)


# ---- what passes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "address"), [(PUBLIC_V4, PUBLIC_V4), (PUBLIC_V6, PUBLIC_V6), (f"::ffff:{PUBLIC_V4}", PUBLIC_V4)]
)
def test_a_public_address_passes_resolve(answer: str, address: str) -> None:
    resolver = StubResolver(answer)
    target = net.parse("https://hooks.example.test:8443/images?a=1", allow_loopback=False)
    assert net.resolve(target, allow_loopback=False, resolver=resolver) == address
    assert resolver.calls == [("hooks.example.test", 8443)]


def test_a_public_nat64_answer_is_connected_to_as_resolved() -> None:
    nat64 = "64:ff9b::5db8:d70e"  # 93.184.215.14 through NAT64
    target = net.parse(HOOK, allow_loopback=False)
    assert net.resolve(target, allow_loopback=False, resolver=StubResolver(nat64)) == nat64


def test_parse_keeps_the_path_query_and_netloc() -> None:
    target = net.parse("https://Hooks.Example.test:8443/a/b?x=1&y=2", allow_loopback=False)
    assert (target.scheme, target.host, target.port) == ("https", "hooks.example.test", 8443)
    assert target.path == "/a/b?x=1&y=2"
    assert target.netloc == "Hooks.Example.test:8443"
    assert net.parse("https://hooks.example.test", allow_loopback=False).path == "/"
    assert net.parse("https://hooks.example.test", allow_loopback=False).port == 443


def test_post_over_http_to_loopback_reaches_the_server_with_the_urls_host_header(receiver: CallbackReceiver) -> None:
    port = receiver.server.server_address[1]
    reply = net.post(
        f"http://127.0.0.1:{port}/hooks/images?attempt=1",
        b'{"type":"job.succeeded"}',
        {"Content-Type": "application/json", "Webhook-Id": "msg_1"},
        allow_loopback=True,
    )
    assert reply.status == 200
    [delivery] = receiver.wait_for(1, timeout=5)
    assert delivery.path == "/hooks/images?attempt=1"
    assert delivery.body == b'{"type":"job.succeeded"}'
    assert delivery.headers["host"] == f"127.0.0.1:{port}"
    assert delivery.headers["webhook-id"] == "msg_1"


def test_post_returns_a_redirect_as_the_answer_without_following_it() -> None:
    paths: list[str] = []

    class Redirect(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            paths.append(self.path)
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(307)
            self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        reply = net.post(f"http://127.0.0.1:{server.server_address[1]}/hooks", b"{}", {}, allow_loopback=True)
    finally:
        server.shutdown()
        server.server_close()
    assert (reply.status, reply.headers["location"]) == (307, "/elsewhere")
    assert paths == ["/hooks"]


def test_post_connects_to_the_address_the_resolver_returned_without_resolving_again(
    receiver: CallbackReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a resolver that answers `localhost` itself, and a getaddrinfo that records every name
    port = receiver.server.server_address[1]
    resolver = StubResolver("127.0.0.1")
    looked_up: list[str] = []
    real_getaddrinfo = socket.getaddrinfo

    def recording_getaddrinfo(host: object, *args: object, **kwargs: object) -> object:
        looked_up.append(str(host))
        return real_getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", recording_getaddrinfo)
    # WHEN a callback is posted to the name
    reply = net.post(f"http://localhost:{port}/hooks", b"{}", {}, allow_loopback=True, resolver=resolver)
    # THEN the name was resolved once, by the resolver, and the connection went to its answer
    assert reply.status == 200
    assert resolver.calls == [("localhost", port)]
    assert "localhost" not in looked_up
    assert set(looked_up) <= {"127.0.0.1"}
    [delivery] = receiver.wait_for(1, timeout=5)
    assert delivery.headers["host"] == f"localhost:{port}"


def test_post_over_https_connects_to_the_pinned_address_with_the_urls_name_for_tls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a name resolving to a public address, and connections intercepted before any packet
    connected: list[tuple[str, int]] = []

    def intercept(address: tuple[str, int], *args: object, **kwargs: object) -> socket.socket:
        connected.append(address)
        raise ConnectionRefusedError("intercepted by the test")

    monkeypatch.setattr(socket, "create_connection", intercept)
    resolver = StubResolver(PUBLIC_V4)
    # WHEN posting to it
    with pytest.raises(ConnectionRefusedError, match="intercepted"):
        net.post("https://hooks.example.test:8443/images", b"{}", {}, allow_loopback=False, resolver=resolver)
    # THEN the one connection attempt went to the checked address, not to the name
    assert resolver.calls == [("hooks.example.test", 8443)]
    assert connected == [(PUBLIC_V4, 8443)]


def test_the_pinned_https_connection_verifies_the_certificate_for_the_urls_name() -> None:
    connection = net._PinnedHTTPSConnection("hooks.example.test", PUBLIC_V4, 443, net._Clock(net.CALLBACK_BUDGET))
    context = connection._context  # type: ignore[attr-defined]
    assert connection.host == "hooks.example.test"
    assert context.check_hostname is True
    assert context.verify_mode.name == "CERT_REQUIRED"


def test_a_callback_answered_a_byte_at_a_time_ends_at_the_total_deadline(trickler: Trickler) -> None:
    # GIVEN a receiver that answers a byte every 0.2 s
    trickler.reply, trickler.piece, trickler.every = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 1, 0.2
    started = time.monotonic()
    # WHEN a callback is posted to it
    with pytest.raises(net.TooSlowError, match=r"took longer than 1\.5 s") as caught:
        net.post(
            f"{trickler.url}/hooks",
            b"{}",
            {},
            allow_loopback=True,
            budget=net.Budget(total_seconds=1.5, idle_seconds=1),
        )
    # THEN the post ends at the deadline, with an OSError (what a failed delivery is retried on)
    assert 1.5 <= time.monotonic() - started < 2.5
    assert isinstance(caught.value, OSError)


def test_a_callback_receiver_that_never_answers_ends_at_the_idle_timeout(trickler: Trickler) -> None:
    trickler.reply, trickler.every = b"HTTP/1.1 200 OK\r\n\r\n", 30
    started = time.monotonic()
    with pytest.raises(net.TooSlowError, match=r"sent nothing for 0\.5 s"):
        net.post(f"{trickler.url}/hooks", b"{}", {}, allow_loopback=True, budget=net.Budget(5, idle_seconds=0.5))
    assert time.monotonic() - started < 1.5
