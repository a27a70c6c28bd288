"""Tiers and limits over HTTP, on a stack started with anonymous use on and small usage plans:
keyed rate and burst, the anonymous tier's stricter limits, and the daily quota — each a clear
413/422/401/429 (with Retry-After), as API Gateway and the handlers answer them."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests

from tests import images
from tests.e2e.conftest import LocalStack, running_stack, wait_for_job

OVERRIDES = " ".join(
    [
        "AllowAnonymous=true",
        "KeyedRateLimit=2",
        "KeyedBurstLimit=4",
        "AnonymousRateLimit=50",
        "AnonymousBurstLimit=50",
        "AnonymousDailyQuota=40",
    ]
)
OUTPUT = {"name": "a", "format": "png"}


@pytest.fixture(scope="module")
def tiered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with running_stack(tmp_path_factory.mktemp("tiers") / "devstack.log", OVERRIDES) as stack:
        yield stack


def anonymous(stack: LocalStack, method: str, path: str, **kwargs: object) -> requests.Response:
    return requests.request(method, f"{stack.api_url}{path}", timeout=10, **kwargs)  # type: ignore[arg-type]


def test_a_key_over_its_burst_gets_429_with_retry_after_then_recovers(tiered: LocalStack) -> None:
    answers = [requests.get(f"{tiered.api_url}/jobs", headers=tiered.headers(), timeout=10) for _ in range(8)]

    statuses = [a.status_code for a in answers]
    assert statuses[:4] == [200] * 4
    refused = next(a for a in answers if a.status_code == 429)
    assert refused.headers["Retry-After"] == "1"
    assert refused.json()["error"]["code"] == "rate_limited"
    time.sleep(1.1)
    assert requests.get(f"{tiered.api_url}/jobs", headers=tiered.headers(), timeout=10).status_code == 200


def test_an_anonymous_upload_over_5_mb_is_a_413(tiered: LocalStack) -> None:
    response = anonymous(
        tiered,
        "POST",
        "/uploads",
        json={"filename": "a.jpg", "content_type": "image/jpeg", "size_bytes": 5 * 2**20 + 1},
    )

    assert response.status_code == 413
    assert response.json()["error"]["details"][0]["path"] == "size_bytes"


@pytest.mark.parametrize(
    ("job", "path"),
    [
        ({"outputs": [OUTPUT, {**OUTPUT, "name": "b"}, {**OUTPUT, "name": "c"}]}, "outputs"),
        ({"outputs": [{**OUTPUT, "operations": [{"type": "flip"}] * 4}]}, "outputs[0].operations"),
        ({"outputs": [OUTPUT], "callback_url": "https://example.com/hook"}, "callback_url"),
    ],
)
def test_anonymous_jobs_have_the_stricter_limits(tiered: LocalStack, job: dict, path: str) -> None:
    response = anonymous(tiered, "POST", "/jobs", json={"source": {"url": "https://example.com/a.jpg"}, **job})

    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["path"] == path


@pytest.mark.parametrize(("method", "path"), [("GET", "/jobs"), ("POST", "/batches")])
def test_listing_and_batches_need_a_key(tiered: LocalStack, method: str, path: str) -> None:
    batch = {"jobs": [{"source": {"url": "https://example.com/a.jpg"}, "outputs": [OUTPUT]}]}
    response = anonymous(tiered, method, path, json=batch if method == "POST" else None)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_an_anonymous_source_over_25_megapixels_fails_where_a_keyed_one_passes_the_check(tiered: LocalStack) -> None:
    claiming = images.png_claiming(6000, 5000)  # 30 MP, by its header

    def run(headers: dict[str, str]) -> dict:
        created = anonymous(
            tiered,
            "POST",
            "/jobs",
            json={"source": {"upload": {"filename": "big.png", "content_type": "image/png"}}, "outputs": [OUTPUT]},
            headers=headers,
        ).json()
        form = created["upload"]
        requests.post(form["url"], data=form["fields"], files={"file": ("big.png", claiming, "image/png")}, timeout=10)
        return wait_for_job(tiered, created["id"], headers=headers)

    assert run({})["error"]["code"] == "too_many_pixels"
    time.sleep(1)  # the keyed burst of the test above
    assert run(tiered.headers())["error"]["code"] == "corrupt_image"  # under 100 MP: decoded, and it has no pixels


def test_anonymous_callers_see_the_anonymous_limits_and_what_all_of_them_used(tiered: LocalStack) -> None:
    # GIVEN what anonymous callers used so far (this reading included)
    before = anonymous(tiered, "GET", "/usage").json()
    assert (before["tier"], before["shared"], before["key_id"]) == ("anonymous", True, None)
    assert before["rate"] == {"requests_per_second": 50.0, "burst": 50}
    assert before["limits"] == {
        "upload_max_bytes": 5242880,
        "max_source_pixels": 25000000,
        "max_output_dimension": 4096,
        "max_animation_frames": 50,
        "max_operations": 3,
        "max_outputs": 2,
        "max_batch_jobs": 0,
    }
    # WHEN two more anonymous requests are made, and a keyed one
    for _ in range(2):
        assert anonymous(tiered, "GET", "/jobs/job_01M7YA9N5BT8MD9QV08S0WDDEP").status_code == 404
    time.sleep(1)  # the keyed burst of the tests above
    assert requests.get(f"{tiered.api_url}/usage", headers=tiered.headers(), timeout=10).json()["tier"] == "keyed"
    after = anonymous(tiered, "GET", "/usage").json()

    # THEN the shared count went up by the anonymous ones only (this reading included), against 40 a day
    assert (after["quota"]["limit"], after["quota"]["used"]) == (40, before["quota"]["used"] + 3)
    assert after["quota"]["remaining"] == 40 - after["quota"]["used"]


def test_the_anonymous_daily_quota_ends_in_429_with_retry_after(tiered: LocalStack) -> None:
    for _ in range(60):
        response = anonymous(tiered, "GET", "/jobs/job_01M7YA9N5BT8MD9QV08S0WDDEP")
        if response.status_code == 429:
            break
        assert response.status_code == 404
    else:
        pytest.fail("the quota never ran out")

    assert response.json()["error"]["code"] == "quota_exceeded"
    assert response.headers["Retry-After"] == "3600"
