"""The client against a scripted API on loopback: 429 and Retry-After, what is retried and what is
not, the Idempotency-Key kept across retries, errors with their code and paths, long-polling."""

from __future__ import annotations

import time
from email.utils import formatdate

import httpx
import pytest

from imagejobs_client import (
    Client,
    InvalidRequestError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TransportError,
)
from imagejobs_client.errors import retry_after
from tests.client.conftest import FakeAPI, Reply, Seen, job_document
from tests.conftest import free_port

THROTTLED = Reply(
    429,
    {"error": {"code": "rate_limited", "message": "Too Many Requests", "details": []}},
    {"Retry-After": "1"},
)
BODY = {"source": {"upload_id": "upl_1"}, "preset": "og-image"}


def test_a_429_is_answered_by_waiting_its_retry_after_and_sending_the_same_idempotency_key(
    fake_api: FakeAPI,
) -> None:
    # GIVEN an API that throttles the first POST /v1/jobs with Retry-After: 1
    fake_api.replies["POST /v1/jobs"] = [THROTTLED, Reply(202, job_document())]

    # WHEN a job is created
    with Client(fake_api.url, "ij_test") as client:
        job = client.create_job("upl_1", preset="og-image")

    # THEN it was sent twice, a second apart, with one Idempotency-Key, and the second answer is the job
    assert job.id == "job_1"
    first, second = fake_api.seen
    assert second.at - first.at >= 1.0
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]
    assert len(first.headers["idempotency-key"]) == 36  # a uuid4
    assert first.json() == second.json() == BODY
    assert first.headers["x-api-key"] == "ij_test"


def test_every_created_job_gets_its_own_idempotency_key_unless_one_is_given(fake_api: FakeAPI) -> None:
    fake_api.replies["POST /v1/jobs"] = [Reply(202, job_document())]

    with Client(fake_api.url, "ij_test") as client:
        client.create_job("upl_1", preset="og-image")
        client.create_job("upl_1", preset="og-image")
        client.create_job("upl_1", preset="og-image", idempotency_key="order-1234")

    keys = [seen.headers["idempotency-key"] for seen in fake_api.seen]
    assert keys[0] != keys[1]
    assert keys[2] == "order-1234"


def test_a_retry_after_longer_than_the_client_waits_is_raised_at_once(fake_api: FakeAPI) -> None:
    # GIVEN the day's quota is spent: 429 with Retry-After: 3600
    fake_api.replies["GET /v1/jobs/job_1"] = [
        Reply(
            429,
            {"error": {"code": "quota_exceeded", "message": "Limit Exceeded", "details": []}},
            {"Retry-After": "3600"},
        )
    ]
    started = time.monotonic()

    # WHEN the job is read, THEN a RateLimitError says how long to wait, without waiting it out
    with Client(fake_api.url, "ij_test") as client, pytest.raises(RateLimitError) as raised:
        client.get_job("job_1")

    assert time.monotonic() - started < 1
    assert (raised.value.status, raised.value.code, raised.value.retry_after) == (429, "quota_exceeded", 3600)
    assert len(fake_api.seen) == 1


def test_429s_are_retried_only_max_retries_times(fake_api: FakeAPI) -> None:
    fake_api.replies["GET /v1/jobs/job_1"] = [
        Reply(
            429,
            {"error": {"code": "rate_limited", "message": "Too Many Requests", "details": []}},
            {"Retry-After": "0"},
        )
    ]

    with Client(fake_api.url, "ij_test", max_retries=2) as client, pytest.raises(RateLimitError):
        client.get_job("job_1")

    assert len(fake_api.seen) == 3


def test_a_503_is_retried_for_a_get_but_not_for_a_post_without_an_idempotency_key(fake_api: FakeAPI) -> None:
    unavailable = Reply(503, {"error": {"code": "internal", "message": "Service Unavailable", "details": []}})
    fake_api.replies["GET /v1/jobs/job_1"] = [unavailable, Reply(200, job_document(status="succeeded"))]
    fake_api.replies["POST /v1/jobs/job_1/retry"] = [unavailable, Reply(202, job_document())]

    with Client(fake_api.url, "ij_test") as client:
        assert client.get_job("job_1").status == "succeeded"
        with pytest.raises(ServerError) as raised:
            client.retry_job("job_1")

    assert raised.value.status == 503
    assert [f"{seen.method} {seen.path}" for seen in fake_api.seen] == [
        "GET /v1/jobs/job_1",
        "GET /v1/jobs/job_1",
        "POST /v1/jobs/job_1/retry",
    ]


def test_a_validation_error_carries_the_api_code_message_and_field_paths(fake_api: FakeAPI) -> None:
    fake_api.replies["POST /v1/jobs"] = [
        Reply(
            422,
            {
                "error": {
                    "code": "invalid_request",
                    "message": "2 fields are invalid",
                    "details": [
                        {"path": "outputs[0].operations[0].width", "message": "must be above 0"},
                        {"path": "outputs[1].format", "message": "must be one of jpeg, png"},
                    ],
                }
            },
        )
    ]

    with Client(fake_api.url, "ij_test") as client, pytest.raises(InvalidRequestError) as raised:
        client.create_job("upl_1", outputs=[{"name": "a", "format": "webp"}])

    error = raised.value
    assert (error.status, error.code, error.message) == (422, "invalid_request", "2 fields are invalid")
    assert error.paths == ["outputs[0].operations[0].width", "outputs[1].format"]
    assert "outputs[1].format: must be one of jpeg, png" in str(error)
    assert len(fake_api.seen) == 1  # a 422 is not retried


def test_an_answer_not_in_the_api_shape_still_raises_by_status(fake_api: FakeAPI) -> None:
    fake_api.replies["GET /v1/jobs/job_1"] = [Reply(404, b"<html>Not Found</html>", {"Content-Type": "text/html"})]

    with Client(fake_api.url, "ij_test") as client, pytest.raises(NotFoundError) as raised:
        client.get_job("job_1")

    assert (raised.value.code, raised.value.status) == ("http_error", 404)
    assert "Not Found" in raised.value.message


def test_nothing_listening_is_a_transport_error_after_a_few_quick_tries() -> None:
    started = time.monotonic()

    with Client(f"http://127.0.0.1:{free_port()}/v1", "ij_test") as client, pytest.raises(TransportError) as raised:
        client.get_job("job_1")

    assert "nothing answers" in str(raised.value)
    assert time.monotonic() - started < 3


def test_waiting_asks_the_api_to_hold_the_request_and_polls_an_api_that_does_not(fake_api: FakeAPI) -> None:
    # GIVEN an API with no long-poll: the job is queued for its first three reads
    reads = iter(["queued", "processing", "processing", "succeeded"])
    fake_api.respond = lambda seen: Reply(200, job_document(status=next(reads)))

    with Client(fake_api.url, "ij_test", poll_wait=5) as client:
        job = client.wait_for_job("job_1", timeout=30)

    # THEN every read asked for ?wait=5, and the client backed off between the early answers
    assert job.status == "succeeded"
    assert [seen.query for seen in fake_api.seen] == [{"wait": ["5"]}] * 4
    gaps = [b.at - a.at for a, b in zip(fake_api.seen, fake_api.seen[1:], strict=False)]
    assert all(gap >= 0.15 for gap in gaps)


def test_waiting_on_an_api_that_long_polls_takes_one_request_per_wait(fake_api: FakeAPI) -> None:
    # GIVEN an API that holds GET ?wait= until the job ends, 1.5 s after the first read
    def respond(seen: Seen) -> Reply:
        ends = fake_api.seen[0].at + 1.5
        wait = float(seen.query["wait"][0])
        hold = max(0.0, min(wait, ends - time.monotonic()))
        status = "succeeded" if time.monotonic() + hold >= ends else "processing"
        return Reply(200, job_document(status=status), delay=hold)

    fake_api.respond = respond

    with Client(fake_api.url, "ij_test", poll_wait=1) as client:
        job = client.wait_for_job("job_1", timeout=30)

    # THEN each read asked for ?wait=1 and was held: two requests where polling would take several
    assert job.status == "succeeded"
    assert [seen.query for seen in fake_api.seen] == [{"wait": ["1"]}] * 2


def test_retry_after_reads_seconds_and_http_dates() -> None:
    def response(value: str) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": value})

    assert retry_after(response("7")) == 7
    assert 25 <= (retry_after(response(formatdate(time.time() + 30, usegmt=True))) or 0) <= 30
    assert retry_after(response("soon")) is None
    assert retry_after(httpx.Response(429)) is None


def test_api_keys_go_to_the_api_and_never_to_the_presigned_storage_urls(fake_api: FakeAPI, tmp_path) -> None:
    # GIVEN an API whose upload form and download link point at the same fake (as S3 would be)
    form = {"upload_id": "upl_1", "url": f"{fake_api.url}/storage", "fields": {"key": "uploads/x"}, "max_bytes": 10**6}
    fake_api.replies["GET /v1/formats"] = [
        Reply(200, {"formats": [{"name": "png", "read": True, "extensions": ["png"], "content_types": ["image/png"]}]})
    ]
    fake_api.replies["POST /v1/uploads"] = [Reply(201, form)]
    fake_api.replies["POST /v1/storage"] = [Reply(204, b"")]
    image = tmp_path / "a.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 64)

    with Client(fake_api.url, "ij_secret_key") as client:
        uploaded = client.upload(image)

    # THEN the form went with its fields before the file, and without the key
    assert uploaded.upload_id == "upl_1"
    storage = fake_api.seen[-1]
    assert storage.path == "/v1/storage"
    assert "x-api-key" not in storage.headers
    assert storage.body.index(b'name="key"') < storage.body.index(b'name="file"; filename="a.png"')
    assert b"Content-Type: image/png" in storage.body
    assert fake_api.seen[1].json() == {"filename": "a.png", "content_type": "image/png", "size_bytes": 72}
