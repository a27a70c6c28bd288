"""Outbound HTTP that cannot be pointed at the service's own network (SSRF-safe) and cannot hang.

A URL must be https (plain http only to loopback, and only where the deployer allows loopback,
as the local stack does). Its host is resolved once, every address is checked, and the
connection goes to the checked address, so a second DNS answer cannot swap it (no rebinding).
An address literal in the URL is checked as soon as the URL is read.

An address passes only if it is global unicast (an allow-list, not a list of what to refuse). An
IPv6 address that carries an IPv4 one is judged by the IPv4 address it carries: IPv4-mapped
(`::ffff:a.b.c.d`), IPv4-translated (`::ffff:0:a.b.c.d`) and IPv4-compatible (`::a.b.c.d`) forms
reach that IPv4 address on this host, NAT64 (`64:ff9b::/96`), 6to4 (`2002::/16`) and Teredo
(`2001::/32`) through a gateway. The local-use NAT64 prefix `64:ff9b:1::/48` is refused whole
(where its IPv4 address sits is each network's choice), as is anything else outside `2000::/3`.

Every exchange has a budget: a total deadline over everything (connecting, TLS, each redirect,
the body), a longest wait for the next byte, and past a grace period a minimum transfer rate, so
a server that trickles its bytes is cut off.
"""

from __future__ import annotations

import http.client
import io
import ipaddress
import re
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from imagejobs.errors import ImageJobsError, SourceFetchFailedError, TooLargeError

Resolver = Callable[[str, int], list[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeUrlError(ImageJobsError):
    status = 422
    code = "unsafe_url"


class TooSlowError(TimeoutError):
    """An exchange went over its budget (an OSError, as any connection that fails)."""


# ---- which addresses may be reached -----------------------------------------------------------

_net = ipaddress.ip_network
# Forms of an IPv4 address on this host: a connection to one reaches the IPv4 address itself.
_MAPPED, _TRANSLATED, _COMPATIBLE = _net("::ffff:0:0/96"), _net("::ffff:0:0:0/96"), _net("::/96")
_NAT64 = _net("64:ff9b::/96")  # RFC 6052's well-known prefix: the IPv4 address is the last 32 bits
# IPv6 global unicast (RFC 4291); within it, what is not globally reachable beyond what
# ipaddress's `is_global` knows: the documentation prefix of RFC 9637.
_GLOBAL_UNICAST_V6 = _net("2000::/3")
_NOT_GLOBAL = (_net("3fff::/20"), _net("192.88.99.0/24"))  # and 6to4's relay anycast (RFC 7526)
# Cloud metadata endpoints, refused by name as well: AWS (IPv4, IPv6, ECS task metadata, DNS),
# GCP and Azure (169.254.169.254 too), Alibaba, Oracle.
METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "fd00:ec2::254", "169.254.170.2", "169.254.169.253", "100.100.100.200", "192.0.0.192")
)


def on_host(address: IPAddress) -> IPAddress:
    """The address a connection really reaches: an IPv4-mapped, -translated or -compatible IPv6
    address as its IPv4 address (`::1` and `::` are IPv6's own)."""
    if (
        isinstance(address, ipaddress.IPv6Address)
        and int(address) > 1
        and any(address in network for network in (_MAPPED, _TRANSLATED, _COMPATIBLE))
    ):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def through_gateway(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses a NAT64, 6to4 or Teredo address leads to (a Teredo address: its server
    and its client); none for any other address."""
    if address in _NAT64:
        return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    if address.sixtofour is not None:
        return [address.sixtofour]
    return list(address.teredo) if address.teredo is not None else []


def _global(address: IPAddress) -> bool:
    return (
        address.is_global
        and not (address.is_multicast or address.is_reserved or address.is_link_local or address.is_unspecified)
        and not any(address in network for network in _NOT_GLOBAL)
        and address not in METADATA
    )


def is_public(address: IPAddress) -> bool:
    """Whether the service may connect to the address: global unicast only, an IPv4 address inside
    an IPv6 one judged by the IPv4 address."""
    address = on_host(address)
    if isinstance(address, ipaddress.IPv4Address):
        return _global(address)
    if carried := through_gateway(address):
        return all(_global(v4) for v4 in carried)
    return address in _GLOBAL_UNICAST_V6 and _global(address)


def is_loopback(address: IPAddress) -> bool:
    return on_host(address).is_loopback


def literal_address(host: str) -> IPAddress | None:
    """The address a URL's host spells, in any form the C library reads as a number (`127.1`,
    `0x7f000001`, `2130706433`, `0177.0.0.1`, `::ffff:0:127.0.0.1`); None for a name."""
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    if not _INET_ATON.fullmatch(host):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


_INET_ATON = re.compile(r"[0-9a-fA-FxX.]+")  # what inet_aton's numbers are made of (no whitespace)


# ---- URLs and what their hosts resolve to ----------------------------------------------------


@dataclass(frozen=True)
class Target:
    url: str
    scheme: str
    host: str
    port: int
    path: str
    netloc: str  # the Host header


def system_resolver(host: str, port: int) -> list[str]:
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)})


def _is_loopback_name(host: str) -> bool:
    address = literal_address(host)
    return host == "localhost" or (address is not None and is_loopback(address))


def parse(url: str, *, allow_loopback: bool) -> Target:
    """Checks the URL's form (scheme, credentials, host) and an address literal in it; the
    addresses of a name are checked when it is resolved."""
    try:
        parts = urlsplit(url)
        hostname, port = parts.hostname, parts.port
    except ValueError as error:
        raise UnsafeUrlError("the URL is not valid") from error
    if parts.scheme not in ("https", "http") or not hostname:
        raise UnsafeUrlError("the URL must be https://host/…")
    if parts.username or parts.password:
        raise UnsafeUrlError("the URL may not carry credentials")
    if parts.scheme == "http" and not (allow_loopback and _is_loopback_name(hostname)):
        raise UnsafeUrlError("the URL must use https")
    if port == 0:
        raise UnsafeUrlError("the URL's port is not valid")
    literal = literal_address(hostname)
    if literal is not None and not (is_public(literal) or (allow_loopback and is_loopback(literal))):
        raise UnsafeUrlError(f"the URL's host is a non-public address ({on_host(literal)})")
    port = port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(url, parts.scheme, hostname, port, path, parts.netloc)


def resolve(target: Target, *, allow_loopback: bool, resolver: Resolver = system_resolver) -> str:
    """The one address to connect to; refuses the target if any address it resolves to is not public."""
    try:
        answers = [ipaddress.ip_address(a.split("%", 1)[0]) for a in resolver(target.host, target.port)]
    except (OSError, UnicodeError, ValueError) as error:
        raise UnsafeUrlError(f"the host {target.host} does not resolve") from error
    if not answers:
        raise UnsafeUrlError(f"the host {target.host} does not resolve")
    if not (allow_loopback and all(is_loopback(a) for a in answers)):
        refused = [a for a in answers if not is_public(a)]
        if refused:
            raise UnsafeUrlError(f"the host {target.host} resolves to a non-public address ({on_host(refused[0])})")
        if target.scheme != "https":
            raise UnsafeUrlError("the URL must use https")
    # An IPv4 address in IPv6 form is connected to as IPv4; a NAT64, 6to4 or Teredo one as resolved.
    return str(on_host(answers[0]))


# ---- exchanges within a budget ---------------------------------------------------------------


@dataclass(frozen=True)
class Budget:
    """How long one exchange may take: `total_seconds` for everything, at most `idle_seconds`
    without a byte, and once a body has been arriving for `grace_seconds`, at least
    `min_bytes_per_second` on average."""

    total_seconds: float
    idle_seconds: float = 10.0
    min_bytes_per_second: int = 50_000
    grace_seconds: float = 5.0


SOURCE_BUDGET = Budget(total_seconds=30.0)  # a URL source, every redirect included
CALLBACK_BUDGET = Budget(total_seconds=10.0)  # one callback POST and its answer


class _Clock:
    """One exchange's budget, started when the exchange starts."""

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self.started = time.monotonic()

    def timeout(self) -> float:
        """The timeout of the next socket operation; fails once the total deadline has passed."""
        left = self.budget.total_seconds - (time.monotonic() - self.started)
        if left <= 0:
            raise TooSlowError(f"took longer than {self.budget.total_seconds:g} s")
        return min(self.budget.idle_seconds, left)

    def timed_out(self) -> TooSlowError:
        """What a socket operation that timed out means: the deadline, or too long a silence."""
        try:
            self.timeout()
        except TooSlowError as error:
            return error
        return TooSlowError(f"sent nothing for {self.budget.idle_seconds:g} s")

    def check_rate(self, received: int, since: float) -> None:
        elapsed = time.monotonic() - since
        wanted = self.budget.min_bytes_per_second
        if elapsed > self.budget.grace_seconds and received < wanted * elapsed:
            raise TooSlowError(
                f"sent {received / elapsed / 1000:.1f} kB/s for {elapsed:.1f} s; the least is {wanted / 1000:g} kB/s"
            )


class _TimedReader(io.RawIOBase):
    """A socket's bytes, each read within the clock's timeout."""

    def __init__(self, sock: socket.socket, clock: _Clock) -> None:
        self._sock = sock
        self._raw = sock.makefile("rb", buffering=0)  # holds the socket open until closed, as http.client expects
        self._clock = clock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        self._sock.settimeout(self._clock.timeout())
        try:
            return self._raw.readinto(buffer)
        except TimeoutError as error:
            raise self._clock.timed_out() from error

    def close(self) -> None:
        self._raw.close()
        super().close()


class _TimedSocket:
    """A connected socket as http.client uses it (sendall, makefile, close), every operation
    within the clock."""

    def __init__(self, sock: socket.socket, clock: _Clock) -> None:
        self._sock = sock
        self._clock = clock

    def sendall(self, data: bytes) -> None:
        with memoryview(data) as view:
            sent = 0
            while sent < len(view):
                self._sock.settimeout(self._clock.timeout())
                try:
                    sent += self._sock.send(view[sent:])
                except TimeoutError as error:
                    raise self._clock.timed_out() from error

    def makefile(self, mode: str, *args: object, **kwargs: object) -> io.BufferedReader:
        return io.BufferedReader(_TimedReader(self._sock, self._clock))

    def close(self) -> None:
        self._sock.close()


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP to a fixed address (the one checked), every socket operation within the clock."""

    def __init__(self, host: str, address: str, port: int, clock: _Clock) -> None:
        super().__init__(host, port)
        self._address = address
        self._clock = clock

    def connect(self) -> None:
        try:
            sock = socket.create_connection((self._address, self.port), self._clock.timeout())
        except TimeoutError as error:
            raise self._clock.timed_out() from error
        try:
            self.sock = _TimedSocket(self._secure(sock), self._clock)
        except OSError:
            sock.close()
            raise

    def _secure(self, sock: socket.socket) -> socket.socket:
        return sock


class _PinnedHTTPSConnection(_PinnedHTTPConnection):
    """HTTPS to a fixed address, with SNI and certificate checks for the URL's host name."""

    def __init__(self, host: str, address: str, port: int, clock: _Clock) -> None:
        super().__init__(host, address, port, clock)
        self._context = ssl.create_default_context()

    def _secure(self, sock: socket.socket) -> socket.socket:
        sock.settimeout(self._clock.timeout())  # bounds the whole handshake
        try:
            return self._context.wrap_socket(sock, server_hostname=self.host)
        except TimeoutError as error:
            raise self._clock.timed_out() from error


def _connection(target: Target, address: str, clock: _Clock) -> http.client.HTTPConnection:
    kind = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    return kind(target.host, address, target.port, clock)


def _read_body(response: http.client.HTTPResponse, clock: _Clock, limit: int) -> bytes:
    """The body, or its first `limit` bytes and a little more: read as it arrives, within the clock."""
    body = bytearray()
    since = time.monotonic()
    while chunk := response.read1(_CHUNK):
        body += chunk
        if len(body) > limit:
            break
        clock.check_rate(len(body), since)
    return bytes(body)


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]


_CHUNK = 65536
_REPLY_BYTES = 65536  # of a callback's answer: read (so the connection ends cleanly), then dropped


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    allow_loopback: bool,
    budget: Budget | None = None,
    resolver: Resolver = system_resolver,
) -> Reply:
    """POSTs `body`; redirects are not followed (a 3xx is an answer like any other). Fails with
    TooSlowError (an OSError) past the budget (CALLBACK_BUDGET unless given)."""
    target = parse(url, allow_loopback=allow_loopback)
    clock = _Clock(budget or CALLBACK_BUDGET)
    connection = _connection(target, resolve(target, allow_loopback=allow_loopback, resolver=resolver), clock)
    try:
        connection.request("POST", target.path, body=body, headers={"Host": target.netloc, **headers})
        response = connection.getresponse()
        _read_body(response, clock, _REPLY_BYTES)
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()})
    finally:
        connection.close()


@dataclass(frozen=True)
class Fetched:
    data: bytes
    content_type: str
    url: str  # after redirects


REDIRECTS = frozenset({301, 302, 303, 307, 308})


def fetch(
    url: str,
    *,
    max_bytes: int,
    allow_loopback: bool,
    max_redirects: int = 5,
    budget: Budget | None = None,
    resolver: Resolver = system_resolver,
) -> Fetched:
    """GETs `url`, following at most `max_redirects` redirects, each checked like the first URL,
    and reads at most `max_bytes` (a larger body is refused as soon as it shows), all within the
    budget (SOURCE_BUDGET unless given).
    """
    clock = _Clock(budget or SOURCE_BUDGET)
    for _ in range(max_redirects + 1):
        try:
            target = parse(url, allow_loopback=allow_loopback)
            address = resolve(target, allow_loopback=allow_loopback, resolver=resolver)
        except UnsafeUrlError as error:
            raise SourceFetchFailedError(f"{url}: {error.message}") from error
        connection = _connection(target, address, clock)
        try:
            connection.request(
                "GET", target.path, headers={"Host": target.netloc, "User-Agent": "imagejobs", "Accept": "image/*"}
            )
            response = connection.getresponse()
            if response.status in REDIRECTS:
                location = response.getheader("Location")
                if not location:
                    raise SourceFetchFailedError(f"{url} answered {response.status} without a Location")
                url = urljoin(url, location)
                continue
            if response.status != 200:
                raise SourceFetchFailedError(f"{url} answered {response.status}")
            declared = response.getheader("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise TooLargeError(f"{url} is {declared} bytes; the limit is {max_bytes}")
            data = _read_body(response, clock, max_bytes)
            if len(data) > max_bytes:
                raise TooLargeError(f"{url} is larger than the limit of {max_bytes} bytes")
            return Fetched(data, response.getheader("Content-Type") or "", url)
        except TooSlowError as error:
            raise SourceFetchFailedError(f"{url} was too slow: it {error}") from error
        except (OSError, http.client.HTTPException) as error:
            raise SourceFetchFailedError(f"{url} could not be read ({type(error).__name__})") from error
        finally:
            connection.close()
    raise SourceFetchFailedError(f"more than {max_redirects} redirects")
