"""The processing side on moto: S3 notifications and job messages through the real process
handler, results in S3, events on the bus, and signed callbacks."""

from __future__ import annotations

import io
import json

import pytest
import requests
from PIL import Image
from standardwebhooks import Webhook

from devstack.stack import Stack
from imagejobs import engine
from imagejobs.store import storage
from tests import images
from tests.conftest import CallbackReceiver
from tests.functional.conftest import Client, discard, drain, upload

OUTPUTS = [
    {
        "name": "thumb",
        "format": "webp",
        "quality": 80,
        "operations": [{"type": "resize", "width": 64, "height": 64, "fit": "cover"}],
    },
    {"name": "wide", "format": "jpeg", "operations": [{"type": "resize", "width": 100}]},
    {"name": "same", "format": "png"},
]


def run(api: Client, stack: Stack, data: bytes, content_type: str = "image/jpeg", **job: object) -> dict:
    uploaded = upload(api, data, content_type)
    created = api.post("/jobs", {"source": {"upload_id": uploaded}, "outputs": OUTPUTS, **job})
    assert created.status_code == 202, created.text
    drain(stack)
    return api.get(f"/jobs/{created.json()['id']}").json()


def queue_depth(stack: Stack, logical_id: str) -> int:
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.template.refs[logical_id],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


@pytest.mark.parametrize(
    ("data", "content_type", "source_format"),
    [
        (images.jpeg(320, 200, images.GREEN), "image/jpeg", "jpeg"),
        (images.png_rgba(320, 200, images.GREEN, alpha=255), "image/png", "png"),
        (images.heic(320, 200, images.GREEN), "image/heic", "heic"),
    ],
    ids=["jpeg", "png", "heic"],
)
def test_a_job_renders_every_output_and_links_to_it(
    api: Client, stack: Stack, data: bytes, content_type: str, source_format: str
) -> None:
    job = run(api, stack, data, content_type)

    assert job["status"] == "succeeded", job
    assert job["attempts"] == 1
    assert job["source"]["format"] == source_format
    assert (job["source"]["width"], job["source"]["height"], job["source"]["bytes"]) == (320, 200, len(data))
    got = {output["name"]: output for output in job["outputs"]}
    expected = {"thumb": ("webp", 64, 64), "wide": ("jpeg", 100, 63), "same": ("png", 320, 200)}
    for name, (fmt, width, height) in expected.items():
        body = requests.get(got[name]["url"], timeout=10).content
        picture = Image.open(io.BytesIO(body))
        assert (got[name]["format"], got[name]["width"], got[name]["height"]) == (fmt, width, height)
        assert picture.format.lower() == {"jpeg": "jpeg", "png": "png", "webp": "webp"}[fmt]
        assert picture.size == (width, height)
        assert got[name]["bytes"] == len(body)
        r, g, b = picture.convert("RGB").getpixel((width // 2, height // 2))
        assert g > 200 and r < 60 and b < 60, (name, r, g, b)
    assert queue_depth(stack, "JobsQueue") == 0


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (images.jpeg(64, 64)[:200], "corrupt_image"),
        (b"these are not the pixels you are looking for\n" * 10, "unsupported_format"),
    ],
    ids=["truncated", "text"],
)
def test_a_broken_upload_fails_its_job_with_a_stable_code_and_a_signed_callback(
    api: Client, stack: Stack, receiver: CallbackReceiver, data: bytes, code: str
) -> None:
    # GIVEN a job with a callback, on an upload that is not a readable image
    job = run(api, stack, data, callback_url=receiver.url, metadata={"order": "1234"})

    # THEN the job failed with its code, and nothing was left queued
    assert job["status"] == "failed"
    assert job["error"]["code"] == code
    assert job["outputs"] == []
    assert queue_depth(stack, "JobsQueue") == 0
    assert queue_depth(stack, "CallbacksQueue") == 0
    assert queue_depth(stack, "JobsDeadLetterQueue") == 0

    # AND a job.failed callback arrived, signed with the tenant's secret
    (delivery,) = receiver.wait_for(1)
    payload = Webhook(stack.webhook_secret).verify(delivery.body, delivery.headers)
    assert payload["type"] == "job.failed"
    assert payload["data"]["id"] == job["id"]
    assert payload["data"]["error"]["code"] == code
    assert payload["data"]["metadata"] == {"order": "1234"}
    assert delivery.headers["webhook-id"].startswith("msg_")
    assert api.get(f"/jobs/{job['id']}").json()["callback"] == {
        "url": receiver.url,
        "status": "delivered",
        "attempts": 1,
    }


def test_a_succeeded_job_calls_back_with_download_links(api: Client, stack: Stack, receiver: CallbackReceiver) -> None:
    job = run(api, stack, images.jpeg(80, 60), callback_url=receiver.url)

    (delivery,) = receiver.wait_for(1)
    payload = Webhook(stack.webhook_secret).verify(delivery.body, delivery.headers)
    assert payload["type"] == "job.succeeded"
    assert [o["name"] for o in payload["data"]["outputs"]] == ["thumb", "wide", "same"]
    thumb = requests.get(payload["data"]["outputs"][0]["url"], timeout=10)
    assert thumb.content[8:12] == b"WEBP"
    assert job["callback"]["status"] == "delivered"


def test_an_upload_larger_than_its_form_allowed_fails_with_too_large(api: Client, stack: Stack) -> None:
    # S3 (and the local stack) refuse such a form; an object put there another way is checked again.
    form = api.post("/uploads", {"filename": "a.png", "content_type": "image/png", "size_bytes": 100}).json()
    data = images.png(300, 300)
    assert len(data) > 100
    sent = requests.post(form["url"], data=form["fields"], files={"file": ("a.png", data, "image/png")}, timeout=10)
    assert sent.status_code == 400
    stack.client("s3").put_object(Bucket=stack.template.refs["Bucket"], Key=form["fields"]["key"], Body=data)
    created = api.post("/jobs", {"source": {"upload_id": form["upload_id"]}, "outputs": OUTPUTS}).json()
    drain(stack)

    job = api.get(f"/jobs/{created['id']}").json()
    assert job["status"] == "failed"
    assert job["error"]["code"] == "too_large"


def test_a_png_named_jpeg_is_read_as_png(api: Client, stack: Stack) -> None:
    job = run(api, stack, images.png(50, 40), content_type="image/jpeg")

    assert job["status"] == "succeeded"
    assert job["source"]["format"] == "png"


def test_a_source_over_the_pixel_limit_fails_with_too_many_pixels(api: Client, stack: Stack) -> None:
    job = run(api, stack, images.png_claiming(20000, 20000))

    assert job["status"] == "failed"
    assert job["error"]["code"] == "too_many_pixels"


def test_an_unexpected_error_is_retried_then_fails_the_job_on_the_last_delivery(
    api: Client, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an engine that breaks in a way no job error describes
    def broken(*_: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(engine, "render", broken)
    uploaded = upload(api, images.jpeg(32, 32))
    created = api.post("/jobs", {"source": {"upload_id": uploaded}, "outputs": OUTPUTS}).json()
    process = stack.function("ProcessFunction")
    max_receive = int(stack.template.body["Mappings"]["Queues"]["Jobs"]["MaxReceiveCount"])
    message = json.dumps({"type": "job", "tenant_id": stack.tenant_id, "job_id": created["id"]})
    discard(stack)

    def deliver(count: int) -> dict:
        record = {
            "messageId": f"m{count}",
            "receiptHandle": "r",
            "body": message,
            "attributes": {"ApproximateReceiveCount": str(count)},
            "messageAttributes": {},
            "eventSource": "aws:sqs",
            "eventSourceARN": stack.template.attributes["JobsQueue"]["Arn"],
        }
        return process.invoke({"Records": [record]})

    # WHEN deliveries before the last fail, they are reported for SQS to retry
    for count in range(1, max_receive):
        assert deliver(count) == {"batchItemFailures": [{"itemIdentifier": f"m{count}"}]}
        assert api.get(f"/jobs/{created['id']}").json()["status"] == "processing"

    # THEN the last delivery fails the job with `internal` instead of losing it to the DLQ
    assert deliver(max_receive) == {"batchItemFailures": []}
    job = api.get(f"/jobs/{created['id']}").json()
    assert job["status"] == "failed"
    assert job["error"]["code"] == "internal"
    assert job["attempts"] == max_receive
    assert "a bug" not in job["error"]["message"]


def test_a_job_message_delivered_twice_runs_once(api: Client, stack: Stack, receiver: CallbackReceiver) -> None:
    job = run(api, stack, images.jpeg(40, 40), callback_url=receiver.url)
    receiver.wait_for(1)
    message = {"type": "job", "tenant_id": stack.tenant_id, "job_id": job["id"]}

    stack.client("sqs").send_message(QueueUrl=stack.template.refs["JobsQueue"], MessageBody=json.dumps(message))
    drain(stack)

    again = api.get(f"/jobs/{job['id']}").json()
    assert again["attempts"] == 1
    assert again["finished_at"] == job["finished_at"]
    assert len(receiver.deliveries) == 1


def test_objects_outside_the_upload_layout_and_s3_test_events_are_skipped(stack: Stack) -> None:
    s3 = stack.client("s3")
    bucket = stack.template.refs["Bucket"]

    s3.put_object(Bucket=bucket, Key="uploads/stray object+name.jpg", Body=b"x")
    s3.put_object(Bucket=bucket, Key=f"uploads/{stack.tenant_id}/upl_01M7YA9N5BT8MD9QV08S0WDDEP", Body=b"x")
    drain(stack)

    assert queue_depth(stack, "JobsQueue") == 0
    assert queue_depth(stack, "JobsDeadLetterQueue") == 0
    assert storage.parse_upload_key(storage.unquote_key("uploads%2Ften_A%2Fupl_B")) == ("ten_A", "upl_B")
