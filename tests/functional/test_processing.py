"""The processing side on moto: S3 notifications and job messages through the real process
handler, results in S3, events on the bus, and signed callbacks."""

from __future__ import annotations

import base64
import io
import json
import random
import time
from pathlib import Path

import pytest
import requests
from PIL import Image
from standardwebhooks import Webhook

from devstack.stack import Stack
from imagejobs import engine
from imagejobs.services import processing
from imagejobs.store import storage
from tests import images
from tests.conftest import CallbackReceiver
from tests.functional.conftest import Client, drain, drain_until, upload, written_lines

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


def test_a_camera_dng_uploaded_as_such_becomes_a_correct_jpeg(api: Client, stack: Stack) -> None:
    # GIVEN a real DNG (samples/photo.jpg's light, mosaiced to a Bayer pattern) uploaded with its RAW type
    photo = (Path(__file__).resolve().parents[2] / "samples" / "photo.jpg").read_bytes()
    dng = images.dng(Image.open(io.BytesIO(photo)))
    uploaded = upload(api, dng, "image/x-adobe-dng", filename="IMG_0001.DNG")

    # WHEN a job asks for a full-size JPEG and a small one
    outputs = [
        {"name": "full", "format": "jpeg", "quality": 92},
        {"name": "small", "format": "jpeg", "operations": [{"type": "resize", "width": 400}]},
    ]
    created = api.post("/jobs", {"source": {"upload_id": uploaded}, "outputs": outputs})
    assert created.status_code == 202, created.text
    drain(stack)
    job = api.get(f"/jobs/{created.json()['id']}").json()

    # THEN both are JPEGs of the photograph, with the source known as a DNG
    assert job["status"] == "succeeded", job
    assert job["source"] == {**job["source"], "format": "dng", "width": 1600, "height": 1067, "bytes": len(dng)}
    full, small = (requests.get(output["url"], timeout=10).content for output in job["outputs"])
    assert Image.open(io.BytesIO(full)).format == "JPEG" and images.size(full) == (1600, 1067)
    assert images.ssim(full, photo) > 0.98
    assert images.size(small) == (400, 267) and (job["outputs"][1]["width"], job["outputs"][1]["height"]) == (400, 267)


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


def test_an_unexpected_error_is_logged_retried_soon_then_fails_the_job_on_the_last_delivery(
    api: Client, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an engine that breaks in a way no job error describes, and retries due at once
    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(engine, "render", broken)
    monkeypatch.setattr(processing, "RETRY_DELAYS", (0, 0))
    uploaded = upload(api, images.jpeg(32, 32))
    created = api.post("/jobs", {"source": {"upload_id": uploaded}, "outputs": OUTPUTS}).json()
    max_receive = int(stack.template.body["Mappings"]["Queues"]["Jobs"]["MaxReceiveCount"])
    logged = written_lines(monkeypatch)

    # WHEN SQS delivers it until it is done with it
    drain(stack)

    # THEN every attempt was logged with the job's id, and the last one failed the job as `internal`
    unexpected = [line for line in logged if line["message"] == "job attempt failed unexpectedly"]
    assert [(line["job_id"], line["tenant_id"], line["attempt"]) for line in unexpected] == [
        (created["id"], stack.tenant_id, attempt) for attempt in range(1, max_receive + 1)
    ]
    job = api.get(f"/jobs/{created['id']}").json()
    assert (job["status"], job["error"]["code"], job["attempts"]) == ("failed", "internal", max_receive)
    assert "a bug" not in job["error"]["message"]
    assert queue_depth(stack, "JobsDeadLetterQueue") == 0


def test_a_job_whose_function_is_killed_on_every_delivery_fails_with_its_callback(
    api: Client, stack: Stack, receiver: CallbackReceiver
) -> None:
    # GIVEN a process function that Lambda stops midway, every time (out of time)
    process = stack.function("ProcessFunction")
    process.kill = "timeout"
    try:
        uploaded = upload(api, images.jpeg(48, 32))
        body = {"source": {"upload_id": uploaded}, "outputs": OUTPUTS, "callback_url": receiver.url}
        created = api.post("/jobs", body).json()

        # WHEN SQS has delivered it as often as it will, and parked it in the dead-letter queue
        drain_until(stack, lambda: api.get(f"/jobs/{created['id']}").json()["status"] == "failed")
    finally:
        process.kill = None

    # THEN the dead-letter queue's consumer failed the job with `timeout`, and its callback says so
    job = api.get(f"/jobs/{created['id']}").json()
    max_receive = int(stack.template.body["Mappings"]["Queues"]["Jobs"]["MaxReceiveCount"])
    assert (job["error"]["code"], job["attempts"]) == ("timeout", max_receive)
    (delivery,) = receiver.wait_for(1)
    payload = Webhook(stack.webhook_secret).verify(delivery.body, delivery.headers)
    assert (payload["type"], payload["data"]["error"]["code"]) == ("job.failed", "timeout")
    assert queue_depth(stack, "JobsDeadLetterQueue") == 0


def output_objects(stack: Stack, job_id: str) -> list[str]:
    listing = stack.client("s3").list_objects_v2(
        Bucket=stack.template.refs["Bucket"], Prefix=f"outputs/{stack.tenant_id}/{job_id}/"
    )
    return [item["Key"] for item in listing.get("Contents", [])]


def test_a_job_deleted_while_it_runs_leaves_no_object_behind(
    api: Client, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a job that is deleted while its outputs are being rendered
    uploaded = upload(api, images.jpeg(64, 48))
    created = api.post("/jobs", {"source": {"upload_id": uploaded}, "outputs": OUTPUTS}).json()
    real_render = engine.render

    def render_then_deleted(*args: object, **kwargs: object) -> object:
        rendered = real_render(*args, **kwargs)  # type: ignore[arg-type]
        assert api.request("DELETE", f"/jobs/{created['id']}").status_code == 204
        return rendered

    monkeypatch.setattr(engine, "render", render_then_deleted)

    # WHEN the attempt ends
    drain(stack)

    # THEN nothing it wrote is left, and the job stays gone
    assert output_objects(stack, created["id"]) == []
    assert api.get(f"/jobs/{created['id']}").status_code == 404


def test_a_job_too_large_to_record_fails_too_large_and_keeps_no_outputs(
    api: Client, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a render that makes more outputs than a DynamoDB item can list (400 KB), even deflated:
    # names that do not compress (random, base64)
    pixel = images.png(1, 1)
    noise = random.Random(7)

    def many(*_: object, **__: object) -> tuple[engine.SourceInfo, list[engine.Rendered]]:
        names = [f"{n:03d}-{base64.urlsafe_b64encode(noise.randbytes(675)).decode()}" for n in range(600)]
        made = [engine.Rendered(name, "png", 1, 1, pixel, "image/png", "png") for name in names]
        return engine.SourceInfo("jpeg", 8, 8), made

    monkeypatch.setattr(engine, "render", many)
    uploaded = upload(api, images.jpeg(8, 8))
    created = api.post("/jobs", {"source": {"upload_id": uploaded}, "outputs": OUTPUTS}).json()

    # WHEN it runs
    drain(stack)

    # THEN it fails with a stable code, and none of the objects it wrote stay
    job = api.get(f"/jobs/{created['id']}").json()
    assert (job["status"], job["error"]["code"], job["outputs"]) == ("failed", "too_large", [])
    assert output_objects(stack, created["id"]) == []


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


TEN = [{"name": f"o{n}", "format": "png", "operations": [{"type": "resize", "width": 16}]} for n in range(10)]


def test_a_job_of_more_outputs_than_a_job_may_make_is_refused_when_its_pages_are_known(api: Client) -> None:
    uploaded = upload(api, images.pdf(*[(72, 72, (255, 255, 255))] * 2), "application/pdf")

    response = api.post("/jobs", {"source": {"upload_id": uploaded, "pages": "1-200"}, "outputs": TEN})

    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["path"] == "source.pages"


def test_a_2000_output_pdf_job_fails_too_large_before_a_page_is_drawn(api: Client, stack: Stack) -> None:
    # GIVEN a PDF of 200 small pages, all selected by an open range, and 10 outputs of each
    many = images.pdf(*[(72, 72, (255, 255, 255))] * 200)

    uploaded = upload(api, many, "application/pdf")
    started = time.monotonic()

    # WHEN it runs
    created = api.post("/jobs", {"source": {"upload_id": uploaded, "pages": "1-"}, "outputs": TEN}).json()
    drain(stack)
    job = api.get(f"/jobs/{created['id']}").json()

    # THEN it fails with a stable code at once, and nothing was written
    assert (job["status"], job["error"]["code"]) == ("failed", "too_large")
    assert "2000 outputs" in job["error"]["message"]
    assert time.monotonic() - started < 30
    assert output_objects(stack, job["id"]) == []


def test_outputs_whose_work_is_over_the_limit_are_refused_when_the_request_tells_it(api: Client) -> None:
    huge = {"type": "resize", "width": 16000, "height": 16000, "fit": "fill"}
    outputs = [{"name": f"o{n}", "format": "png", "operations": [huge]} for n in range(2)]

    response = api.post("/jobs", {"source": {"upload_id": upload(api, images.jpeg(8, 8))}, "outputs": outputs})

    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["path"] == "outputs"
    assert "work units" in response.json()["error"]["details"][0]["message"]
