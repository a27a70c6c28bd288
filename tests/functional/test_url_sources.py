"""URL sources: fetched by the processing side, https only, never to a private address — checked
after resolving and after every redirect. Names resolve through a stub; no packet leaves the machine."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator

import pytest

from devstack.stack import Stack
from imagejobs import net
from imagejobs.settings import get_settings
from tests import images
from tests.conftest import PHOTO, Trickler, slow_image
from tests.functional.conftest import Client, drain, upload

NAMES = {
    "internal.example.test": "10.0.0.5",
    "metadata.example.test": "169.254.169.254",
    "translated.example.test": "::ffff:0:a9fe:a9fe",  # 169.254.169.254, IPv4-translated
    "sitelocal.example.test": "fec0::5",
}
OUTPUTS = [{"name": "small", "format": "webp", "operations": [{"type": "resize", "width": 160}]}]


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Stub DNS for the test names (others resolve as usual: they are loopback), and the addresses
    the service connects to for sources."""
    real = socket.getaddrinfo

    def resolve(host: str, *args: object, **kwargs: object) -> list:
        if host in NAMES:
            if ":" in NAMES[host]:
                return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (NAMES[host], 443, 0, 0))]
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (NAMES[host], 443))]
        return real(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    attempted: list[str] = []
    original = net._connection

    def watched(target: net.Target, address: str, clock: object) -> object:
        attempted.append(address)
        return original(target, address, clock)  # type: ignore[arg-type]

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
        ("https://internal.example.test/a.jpg", "non-public address (10.0.0.5)"),
        ("https://metadata.example.test/latest/", "non-public address (169.254.169.254)"),
        ("https://translated.example.test/latest/", "non-public address (169.254.169.254)"),
        ("https://sitelocal.example.test/a.jpg", "non-public address (fec0::5)"),
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


NON_PUBLIC_LITERALS = [
    ("https://10.0.0.1/a.jpg", "10.0.0.1"),
    ("https://169.254.169.254/latest/meta-data/", "169.254.169.254"),
    ("https://[::1]/a.jpg", "::1"),
    ("https://0x7f000001/a.jpg", "127.0.0.1"),
    ("https://127.1/a.jpg", "127.0.0.1"),
    ("https://[::127.0.0.1]/a.jpg", "127.0.0.1"),
    ("https://[::169.254.169.254]/latest/meta-data/", "169.254.169.254"),
    ("https://[::ffff:0:127.0.0.1]/a.jpg", "127.0.0.1"),
    ("https://[fec0::1]/a.jpg", "fec0::1"),
    ("https://[fe80::1]/a.jpg", "fe80::1"),
]


@pytest.mark.parametrize(("url", "address"), NON_PUBLIC_LITERALS)
@pytest.mark.parametrize("field", ["source.url", "callback_url"])
def test_a_url_naming_a_non_public_address_is_refused_when_the_job_is_made(
    api: Client, connections: list[str], production: None, field: str, url: str, address: str
) -> None:
    body: dict = {"source": {"url": "https://images.example.test/a.jpg"}, "outputs": OUTPUTS}
    if field == "source.url":
        body["source"]["url"] = url
    else:
        body["callback_url"] = url

    response = api.post("/jobs", body)

    assert response.status_code == 422, response.text
    [detail] = response.json()["error"]["details"]
    assert detail == {"path": field, "message": f"the URL's host is a non-public address ({address})"}
    assert connections == []


@pytest.mark.parametrize(("url", "address"), NON_PUBLIC_LITERALS[:4])
def test_a_batch_callback_url_naming_a_non_public_address_is_refused(
    api: Client, production: None, url: str, address: str
) -> None:
    response = api.post(
        "/batches",
        {"jobs": [{"source": {"url": "https://images.example.test/a.jpg"}, "outputs": OUTPUTS}], "callback_url": url},
    )

    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"][0]["path"] == "callback_url"
    assert address in response.json()["error"]["details"][0]["message"]


def test_a_url_source_sent_slowly_fails_the_job_within_its_budget(
    api: Client, stack: Stack, trickler: Trickler, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a source server that sends an image at about 2 kB/s, and a 3 s budget for sources
    trickler.reply, trickler.piece, trickler.every = slow_image(500_000), 100, 0.05
    budget = net.Budget(total_seconds=3, idle_seconds=1, min_bytes_per_second=50_000, grace_seconds=1)
    monkeypatch.setattr(net, "SOURCE_BUDGET", budget)
    started = time.monotonic()
    # WHEN a job fetches it
    job = run(api, stack, f"{trickler.url}/slow.png")
    # THEN the job fails with source_fetch_failed, within the budget, without being retried
    assert job["status"] == "failed"
    assert job["error"]["code"] == "source_fetch_failed"
    assert "too slow" in job["error"]["message"]
    assert time.monotonic() - started < 6
    assert trickler.connections == 1


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


@pytest.mark.parametrize("url", ["https://internal.example.test/hook", "https://translated.example.test/hook"])
def test_a_callback_url_resolving_to_a_private_address_is_never_called(
    api: Client, stack: Stack, origin: str, connections: list[str], production: None, url: str
) -> None:
    # GIVEN a job whose source is fine and whose callback's name resolves inward
    created = api.post(
        "/jobs", {"source": {"upload_id": upload(api, images.jpeg(8, 8))}, "outputs": OUTPUTS, "callback_url": url}
    )
    assert created.status_code == 202
    drain(stack)

    job = api.get(f"/jobs/{created.json()['id']}").json()
    assert job["status"] == "succeeded"
    assert job["callback"]["status"] in ("pending", "failed")
    assert connections == []
