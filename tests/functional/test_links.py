"""Stable links (`GET /v1/o/{token}`): every output's `link` downloads its bytes without a key for as
long as its job exists, in documents, srcsets, events and callbacks alike; every other token, and
every link of a deleted or expired job, is the same 404."""

from __future__ import annotations

import io
import json
import time
from urllib.parse import urlsplit

import pytest
import requests
from PIL import Image
from standardwebhooks import Webhook

from devstack.stack import Stack
from imagejobs import links
from imagejobs.services import links as link_service
from imagejobs.store import secrets
from tests import images
from tests.conftest import CallbackReceiver
from tests.functional.conftest import Client, drain, upload

OUTPUTS = [
    {"name": "thumb", "format": "png", "operations": [{"type": "resize", "width": 32}]},
    {"name": "photo", "format": "jpeg"},
]


def finished_job(api: Client, stack: Stack, **extra: object) -> dict:
    body = {"source": {"upload_id": upload(api, images.png(64, 48, images.GREEN), "image/png")}, "outputs": OUTPUTS}
    created = api.post("/jobs", {**body, **extra})
    assert created.status_code == 202, created.text
    drain(stack)
    job = api.get(f"/jobs/{created.json()['id']}").json()
    assert job["status"] == "succeeded", job
    return dict(job)


def follow(link: str) -> requests.Response:
    """The link as a browser asks for it: no key, no cookie, nothing but the URL."""
    return requests.get(link, timeout=10, allow_redirects=False)


def refusal(response: requests.Response) -> tuple[int, tuple[tuple[str, str], ...], bytes]:
    """All a client can tell of an answer: its status, its headers (but the date), its body."""
    headers = tuple(sorted((k, v) for k, v in response.headers.items() if k != "Date"))
    return response.status_code, headers, response.content


def token_of(link: str) -> str:
    return link.rsplit("/", 1)[1]


def test_a_link_redirects_without_a_key_to_the_outputs_bytes(api: Client, stack: Stack) -> None:
    # GIVEN a finished job
    job = finished_job(api, stack)
    thumb = job["outputs"][0]
    assert thumb["link"].startswith(f"{stack.api_url}/o/")

    # WHEN its link is followed with no key
    answer = follow(thumb["link"])

    # THEN it is a redirect, cacheable for less than the download it leads to lives
    assert answer.status_code == 302, answer.text
    cache_control = answer.headers["Cache-Control"]
    assert cache_control.startswith("public, max-age=")
    keep = int(cache_control.rsplit("=", 1)[1])
    expires = int(dict(p.split("=") for p in urlsplit(answer.headers["Location"]).query.split("&"))["X-Amz-Expires"])
    assert 0 < keep <= expires // 3
    assert expires <= link_service.REDIRECT_SECONDS
    # AND what it leads to is the output: its bytes, its pixels
    body = requests.get(answer.headers["Location"], timeout=10).content
    assert body == requests.get(thumb["url"], timeout=10).content
    assert len(body) == thumb["bytes"]
    picture = Image.open(io.BytesIO(body))
    assert (picture.format, picture.size) == ("PNG", (32, 24))
    r, g, b = picture.convert("RGB").getpixel((16, 12))
    assert g > 200 and r < 60 and b < 60
    # AND a client that follows redirects just gets the image
    assert requests.get(job["outputs"][1]["link"], timeout=10).content[:3] == b"\xff\xd8\xff"


def test_a_link_stays_the_same_across_reads_while_download_urls_change(api: Client, stack: Stack) -> None:
    job = finished_job(api, stack)
    time.sleep(1.1)  # presigned URLs carry the second they were made

    again = api.get(f"/jobs/{job['id']}").json()
    listed = next(j for j in api.get("/jobs", params={"limit": 5}).json()["jobs"] if j["id"] == job["id"])

    assert [o["link"] for o in again["outputs"]] == [o["link"] for o in job["outputs"]]
    assert [o["link"] for o in listed["outputs"]] == [o["link"] for o in job["outputs"]]
    assert again["outputs"][0]["url"] != job["outputs"][0]["url"]
    assert again["outputs"][0]["cdn_url"] is None  # no CDN unless EnableCdn


def test_a_deleted_jobs_links_are_the_same_404_as_a_forged_token(api: Client, stack: Stack) -> None:
    # GIVEN a finished job whose link works, and a token nobody made
    job = finished_job(api, stack)
    link = job["outputs"][0]["link"]
    assert follow(link).status_code == 302
    forged = follow(f"{stack.api_url}/o/{'A' * 40}.{'B' * 43}")

    # WHEN the job is deleted
    assert api.request("DELETE", f"/jobs/{job['id']}").status_code == 204

    # THEN its link is a 404, indistinguishable from the forged token's
    gone = follow(link)
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "not_found"
    assert refusal(gone) == refusal(forged)


def test_every_refused_token_is_the_same_404(api: Client, stack: Stack) -> None:
    job = finished_job(api, stack)
    other = finished_job(api, stack)
    token = token_of(job["outputs"][0]["link"])
    claim, signature = token.split(".")
    past = int(time.time()) - 1
    expired = links.sign(links.Claim(stack.tenant_id, job["id"], "thumb", past), secrets.link_secret())
    other_claim = token_of(other["outputs"][0]["link"]).split(".")[0]
    other_output = token_of(job["outputs"][1]["link"]).split(".")[0]
    refused = {
        "unknown": "nothing-like-a-token",
        "forged": f"{claim}.{'A' * 43}",
        "tampered claim": f"{claim[:-2]}{'A' if claim[-2] != 'A' else 'B'}{claim[-1]}.{signature}",
        "tampered signature": f"{claim}.{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}",
        "another job's claim": f"{other_claim}.{signature}",
        "another output's claim": f"{other_output}.{signature}",
        "expired": expired,
        "another secret": links.sign(links.Claim(stack.tenant_id, job["id"], "thumb", past + 86400), b"guess"),
        "too long": "A" * 5000,
    }

    answers = {name: follow(f"{stack.api_url}/o/{token}") for name, token in refused.items()}

    assert follow(f"{stack.api_url}/o/{token}").status_code == 302  # the real one still works
    assert {name: answer.status_code for name, answer in answers.items()} == dict.fromkeys(refused, 404)
    assert len({refusal(answer) for answer in answers.values()}) == 1


def test_a_link_works_for_another_tenants_visitors_but_names_only_its_own_job(
    api: Client, other_tenant: Client, stack: Stack
) -> None:
    # A link is a public capability: whoever has it downloads the output, whatever their key.
    job = finished_job(api, stack)
    answer = requests.get(job["outputs"][0]["link"], headers={"X-API-Key": other_tenant.key}, timeout=10)
    assert answer.status_code == 200
    # while the job itself stays invisible to the other tenant
    assert other_tenant.get(f"/jobs/{job['id']}").status_code == 404


def test_callbacks_carry_links_that_download_without_a_key(
    api: Client, stack: Stack, receiver: CallbackReceiver
) -> None:
    job = finished_job(api, stack, callback_url=receiver.url)

    (delivery,) = receiver.wait_for(1)
    payload = Webhook(stack.webhook_secret).verify(delivery.body, delivery.headers)

    assert [o["link"] for o in payload["data"]["outputs"]] == [o["link"] for o in job["outputs"]]
    body = requests.get(payload["data"]["outputs"][0]["link"], timeout=10).content
    assert Image.open(io.BytesIO(body)).size == (32, 24)


@pytest.mark.parametrize("path", ["/o/", "/o/a/b", "/o/%2e%2e"])
def test_a_malformed_link_path_is_a_404_never_a_5xx(stack: Stack, path: str) -> None:
    answer = requests.get(f"{stack.api_url}{path}", timeout=10, allow_redirects=False)
    assert 400 <= answer.status_code < 500, answer.text
    assert json.loads(answer.content)["error"]["code"] == "not_found"
