"""Outbound HTTP that cannot be pointed at the service's own network (SSRF-safe).

A URL must be https (plain http only to loopback, and only where the deployer allows loopback,
as the local stack does). Its host is resolved once, every address is checked, and the
connection goes to the checked address, so a second DNS answer cannot swap it (no rebinding).
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from imagejobs.errors import ImageJobsError, SourceFetchFailedError, TooLargeError

Resolver = Callable[[str, int], list[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata endpoints that are not otherwise private: AWS IPv6 IMDS, Alibaba, Oracle.
_METADATA = {ipaddress.ip_address(a) for a in ("fd00:ec2::254", "100.100.100.200", "192.0.0.192")}


class UnsafeUrlError(ImageJobsError):
    status = 422
    code = "unsafe_url"


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


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _address(text: str) -> IPAddress:
    """The address a connection really reaches: IPv4 inside IPv6 forms (mapped, NAT64, 6to4) unwrapped."""
    address = ipaddress.ip_address(text.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if address.sixtofour is not None:
            return address.sixtofour
    return address


def is_public(address: IPAddress) -> bool:
    return address.is_global and not address.is_multicast and address not in _METADATA


def _is_loopback_name(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return _address(host).is_loopback
    except ValueError:
        return False


def parse(url: str, *, allow_loopback: bool) -> Target:
    """Checks the URL's form (scheme, credentials, host); addresses are checked when resolved."""
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
    port = port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(url, parts.scheme, hostname, port, path, parts.netloc)


def resolve(target: Target, *, allow_loopback: bool, resolver: Resolver = system_resolver) -> str:
    """The one address to connect to; refuses the target if any address it resolves to is not public."""
    try:
        answers = [ipaddress.ip_address(a.split("%", 1)[0]) for a in resolver(target.host, target.port)]
        addresses = [_address(str(a)) for a in answers]  # what each answer really reaches
    except (OSError, ValueError) as error:
        raise UnsafeUrlError(f"the host {target.host} does not resolve") from error
    if not addresses:
        raise UnsafeUrlError(f"the host {target.host} does not resolve")
    loopback_ok = allow_loopback and all(a.is_loopback for a in addresses)
    if not loopback_ok:
        refused = [a for a in addresses if not is_public(a)]
        if refused:
            raise UnsafeUrlError(f"the host {target.host} resolves to a non-public address ({refused[0]})")
        if target.scheme != "https":
            raise UnsafeUrlError("the URL must use https")
    # Connect as resolved (a NAT64 or 6to4 address is reachable only as such); an IPv4-mapped one as IPv4.
    first = answers[0]
    mapped = first.ipv4_mapped if isinstance(first, ipaddress.IPv6Address) else None
    return str(mapped or first)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a fixed address, with SNI and certificate checks for the URL's host name."""

    def __init__(self, host: str, address: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]


def _connection(target: Target, address: str, timeout: float) -> http.client.HTTPConnection:
    if target.scheme == "https":
        return _PinnedHTTPSConnection(target.host, address, target.port, timeout)
    return http.client.HTTPConnection(address, target.port, timeout=timeout)


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    allow_loopback: bool,
    timeout: float = 10.0,
    resolver: Resolver = system_resolver,
) -> Reply:
    """POSTs `body`; redirects are not followed (a 3xx is an answer like any other)."""
    target = parse(url, allow_loopback=allow_loopback)
    connection = _connection(target, resolve(target, allow_loopback=allow_loopback, resolver=resolver), timeout)
    try:
        connection.request("POST", target.path, body=body, headers={"Host": target.netloc, **headers})
        response = connection.getresponse()
        response.read(65536)
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()})
    finally:
        connection.close()


@dataclass(frozen=True)
class Fetched:
    data: bytes
    content_type: str
    url: str  # after redirects


REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 65536


def fetch(
    url: str,
    *,
    max_bytes: int,
    allow_loopback: bool,
    max_redirects: int = 5,
    timeout: float = 10.0,
    total_seconds: float = 30.0,
    resolver: Resolver = system_resolver,
) -> Fetched:
    """GETs `url`, following at most `max_redirects` redirects, each checked like the first URL,
    and reads at most `max_bytes` (a larger body is refused as soon as it shows).
    """
    started = time.monotonic()
    for _ in range(max_redirects + 1):
        try:
            target = parse(url, allow_loopback=allow_loopback)
            address = resolve(target, allow_loopback=allow_loopback, resolver=resolver)
        except UnsafeUrlError as error:
            raise SourceFetchFailedError(f"{url}: {error.message}") from error
        connection = _connection(target, address, timeout)
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
            body = bytearray()
            while chunk := response.read(_CHUNK):
                body += chunk
                if len(body) > max_bytes:
                    raise TooLargeError(f"{url} is larger than the limit of {max_bytes} bytes")
                if time.monotonic() - started > total_seconds:
                    raise SourceFetchFailedError(f"{url} took longer than {total_seconds:g} s")
            return Fetched(bytes(body), response.getheader("Content-Type") or "", url)
        except (OSError, http.client.HTTPException) as error:
            raise SourceFetchFailedError(f"{url} could not be read ({type(error).__name__})") from error
        finally:
            connection.close()
    raise SourceFetchFailedError(f"more than {max_redirects} redirects")
