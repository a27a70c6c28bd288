"""URL sources: fetched by the processing side, https only, never to a private address — checked
after resolving and after every redirect. Names resolve through a stub; no packet leaves the machine."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

from devstack.stack import Stack
from imagejobs import net
from imagejobs.settings import get_settings
from tests import images
from tests.conftest import PHOTO
from tests.functional.conftest import Client, drain, upload

NAMES = {"internal.example.test": "10.0.0.5", "metadata.example.test": "169.254.169.254"}
OUTPUTS = [{"name": "small", "format": "webp", "operations": [{"type": "resize", "width": 160}]}]


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Stub DNS for the test names (others resolve as usual: they are loopback), and the addresses
    the service connects to for sources."""
    real = socket.getaddrinfo

    def resolve(host: str, *args: object, **kwargs: object) -> list:
        if host in NAMES:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (NAMES[host], 443))]
        return real(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    attempted: list[str] = []
    original = net._connection

    def watched(target: net.Target, address: str, timeout: float) -> object:
        attempted.append(address)
        return original(target, address, timeout)

    monkeypatch.setattr(net, "_connection", watched)
    return attempted


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The deployed service's rules: no loopback, https only (the local stack relaxes them)."""
    monkeypatch.setitem(os.environ, "ALLOW_LOOPBACK_URLS", "false")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def run(api: Client, stack: Stack, url: str) -> dict:
    created = api.post("/jobs", {"source": {"url": url}, "outputs": OUTPUTS})
    assert created.status_code == 202, created.text
    assert created.json()["status"] == "queued"
    drain(stack)
    return dict(api.get(f"/jobs/{created.json()['id']}").json())


def test_a_url_source_is_fetched_and_processed(api: Client, stack: Stack, origin: str, connections: list[str]) -> None:
    job = run(api, stack, f"{origin}/photo.jpg")

    assert job["status"] == "succeeded", job["error"]
    assert job["source"]["url"] == f"{origin}/photo.jpg"
    assert (job["source"]["format"], job["source"]["width"], job["source"]["bytes"]) == ("jpeg", 1600, len(PHOTO))
    assert job["outputs"][0]["width"] == 160
    assert connections == ["127.0.0.1"]


def test_a_redirect_to_a_private_address_fails_the_job_before_connecting_there(
    api: Client, stack: Stack, origin: str, connections: list[str]
) -> None:
    job = run(api, stack, f"{origin}/to?url=https://internal.example.test/photo.jpg")

    assert job["status"] == "failed"
    assert job["error"]["code"] == "source_fetch_failed"
    assert "non-public address (10.0.0.5)" in job["error"]["message"]
    assert connections == ["127.0.0.1"]  # the first hop only


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://10.0.0.1/a.jpg", "non-public address (10.0.0.1)"),
        ("https://169.254.169.254/latest/meta-data/", "non-public address (169.254.169.254)"),
        ("https://[::1]/a.jpg", "non-public address (::1)"),
        ("https://0x7f000001/a.jpg", "non-public address (127.0.0.1)"),
        ("https://internal.example.test/a.jpg", "non-public address (10.0.0.5)"),
        ("https://metadata.example.test/latest/", "non-public address (169.254.169.254)"),
    ],
)
def test_a_url_source_resolving_to_a_private_address_fails_with_source_fetch_failed(
    api: Client, stack: Stack, connections: list[str], production: None, url: str, reason: str
) -> None:
    job = run(api, stack, url)

    assert job["status"] == "failed"
    assert job["error"]["code"] == "source_fetch_failed"
    assert reason in job["error"]["message"]
    assert connections == []


@pytest.mark.parametrize(
    "url", ["http://images.example.test/a.jpg", "ftp://images.example.test/a.jpg", "https://u:p@x.test/"]
)
def test_a_url_source_that_is_not_plain_https_is_refused_when_the_job_is_made(
    api: Client, connections: list[str], production: None, url: str
) -> None:
    response = api.post("/jobs", {"source": {"url": url}, "outputs": OUTPUTS})

    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["path"] == "source.url"
    assert connections == []


@pytest.mark.parametrize(
    "url",
    [
        "https://10.0.0.1/hook",
        "https://169.254.169.254/",
        "https://[::1]/hook",
        "https://0x7f000001/hook",
        "https://internal.example.test/hook",
    ],
)
def test_a_callback_url_resolving_to_a_private_address_is_never_called(
    api: Client, stack: Stack, origin: str, connections: list[str], production: None, url: str
) -> None:
    # GIVEN a job whose source is fine and whose callback points inward
    created = api.post(
        "/jobs", {"source": {"upload_id": upload(api, images.jpeg(8, 8))}, "outputs": OUTPUTS, "callback_url": url}
    )
    assert created.status_code == 202
    drain(stack)

    job = api.get(f"/jobs/{created.json()['id']}").json()
    assert job["status"] == "succeeded"
    assert job["callback"]["status"] in ("pending", "failed")
    assert connections == []
