"""`"analysis": true` through the API on moto: the job document (GET /v1/jobs/{id}) and the job's
event carry the analysis of a real photograph, GPS only when asked; a job without it has none."""

from __future__ import annotations

from typing import Any

import requests

from devstack.stack import Stack
from tests import images
from tests.conftest import CallbackReceiver
from tests.functional.conftest import Client, drain, upload
from tests.functional.test_event_contract import published_events, valid

EIFFEL = ((48.0, 51.0, 29.5), "N", (2.0, 17.0, 40.2), "E", 35.5)
OUTPUTS = [{"name": "small", "format": "webp", "operations": [{"type": "resize", "width": 64}]}]


def run(api: Client, stack: Stack, receiver: CallbackReceiver, **fields: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Runs a job on a GPS-tagged photograph (with a callback, so that its event reaches the callbacks
    queue): its document and its event's detail."""
    photo = images.with_exif(images.photograph(), images.camera_exif(gps=EIFFEL).tobytes())
    body = {"source": {"upload_id": upload(api, photo)}, "outputs": OUTPUTS, "callback_url": receiver.url, **fields}
    created = api.post("/jobs", body)
    assert created.status_code == 202, created.text
    job_id = created.json()["id"]
    (jobs,) = (poller for poller in stack.pollers if poller.queue_url == stack.template.refs["JobsQueue"])
    while jobs.poll_once(wait_seconds=0):  # the processor only: this test reads the callbacks queue
        pass
    event = next(e for e in published_events(stack) if e["detail"].get("id") == job_id)
    document = api.get(f"/jobs/{job_id}").json()
    assert document["status"] == "succeeded", document
    return document, event["detail"]


def test_a_job_with_analysis_has_it_in_its_document_and_its_event(
    api: Client, stack: Stack, receiver: CallbackReceiver
) -> None:
    # GIVEN a job on a real photograph with a camera's EXIF, asking for analysis
    # WHEN it has run
    document, detail = run(api, stack, receiver, analysis=True)

    # THEN GET /v1/jobs/{id} has its analysis: camera, capture time, colours, placeholders; no GPS (not asked)
    analysis = document["analysis"]
    assert analysis["camera"] == {"make": "Canon", "model": "Canon EOS 5D"}
    assert analysis["captured_at"] == "2024-05-01T14:03:22+02:00"
    assert (analysis["has_alpha"], analysis["animated"], analysis["frames"]) == (False, False, 1)
    assert 3 <= len(analysis["palette"]) <= 6 and analysis["blurhash"].startswith("T") and analysis["thumbhash"]
    assert analysis["gps"] is None and analysis["notes"] == []
    # and its event carries the same analysis (nulls left out, as events leave them), valid by the schema
    valid(detail, "JobEvent")
    assert detail["analysis"] == {name: value for name, value in analysis.items() if value is not None}
    # and the output, stripped of metadata, carries no EXIF
    downloaded = requests.get(document["outputs"][0]["url"], timeout=30)
    assert downloaded.status_code == 200
    assert not images.picture(downloaded.content).getexif()


def test_gps_is_there_only_when_asked(api: Client, stack: Stack, receiver: CallbackReceiver) -> None:
    document, detail = run(api, stack, receiver, analysis={"gps": True})

    expected = {"latitude": 48.858194, "longitude": 2.2945, "altitude": 35.5}
    assert document["analysis"]["gps"] == expected
    assert detail["analysis"]["gps"] == expected


def test_a_job_without_analysis_has_none(api: Client, stack: Stack, receiver: CallbackReceiver) -> None:
    document, detail = run(api, stack, receiver)

    assert document["analysis"] is None
    assert "analysis" not in detail


def test_a_batchs_jobs_take_analysis_like_a_job(api: Client, stack: Stack) -> None:
    # GIVEN a batch of two jobs on the same upload, one asking for analysis
    uploaded = upload(api, images.photograph())
    job = {"source": {"upload_id": uploaded}, "outputs": OUTPUTS}
    created = api.post("/batches", {"jobs": [job | {"analysis": True}, job]})
    assert created.status_code == 202, created.text

    # WHEN they have run
    drain(stack)

    # THEN the first has its analysis and the second none
    first, second = (api.get(f"/jobs/{job_id}").json() for job_id in created.json()["job_ids"])
    assert first["analysis"]["palette"] and first["analysis"]["camera"] is None  # this photograph has no EXIF
    assert second["analysis"] is None


def test_analysis_that_is_not_true_false_or_its_object_is_refused(api: Client) -> None:
    response = api.post(
        "/jobs",
        {"source": {"upload_id": "upl_01JD4W3ZP8Q6S2KX7Y0M9N5B1C"}, "outputs": OUTPUTS, "analysis": {"exif": 1}},
    )

    assert response.status_code == 422
    assert any(detail["path"].startswith("analysis") for detail in response.json()["error"]["details"])
