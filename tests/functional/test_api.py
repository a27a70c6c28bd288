"""The API routes on moto: uploads, job creation, reading jobs, errors, keys and tenants."""

from __future__ import annotations

import pytest
import requests

from devstack.stack import Stack
from tests import images
from tests.functional.conftest import Client, drain, upload

THUMB = {"name": "thumb", "format": "webp", "operations": [{"type": "resize", "width": 40, "height": 30}]}


def test_upload_returns_a_presigned_form_that_accepts_the_image(api: Client) -> None:
    response = api.post("/uploads", {"filename": "photo.jpg", "content_type": "image/jpeg", "size_bytes": 1000})

    assert response.status_code == 201
    form = response.json()
    assert form["upload_id"].startswith("upl_")
    assert form["max_bytes"] == 1000
    assert form["fields"]["Content-Type"] == "image/jpeg"
    assert form["fields"]["key"].endswith(form["upload_id"])
    sent = requests.post(form["url"], data=form["fields"], files={"file": ("p.jpg", images.jpeg(8, 8), "image/jpeg")})
    assert sent.status_code == 204


def test_upload_of_an_unknown_content_type_names_the_field(api: Client) -> None:
    response = api.post("/uploads", {"filename": "notes.txt", "content_type": "text/plain"})

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["details"][0]["path"] == "content_type"


def test_upload_larger_than_the_limit_is_refused_before_any_form_is_made(api: Client, stack: Stack) -> None:
    limit = int(stack.template.parameters["UploadMaxBytes"])

    response = api.post("/uploads", {"filename": "big.jpg", "content_type": "image/jpeg", "size_bytes": limit + 1})

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert response.json()["error"]["details"][0]["path"] == "size_bytes"


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"source": {"upload_id": "upl_01M7YA9N5BT8MD9QV08S0WDDEP"}, "outputs": []}, "outputs"),
        (
            {
                "source": {"upload_id": "upl_01M7YA9N5BT8MD9QV08S0WDDEP"},
                "outputs": [{"name": "a", "format": "webp", "operations": [{"type": "resize", "width": -5}]}],
            },
            "outputs[0].operations[0].width",
        ),
        (
            {
                "source": {"upload_id": "upl_01M7YA9N5BT8MD9QV08S0WDDEP"},
                "outputs": [THUMB, {"name": "b", "format": "bmp2"}],
            },
            "outputs[1].format",
        ),
        ({"source": {}, "outputs": [THUMB]}, "source"),
        (
            {"source": {"upload_id": "upl_01M7YA9N5BT8MD9QV08S0WDDEP"}, "outputs": [THUMB], "ttl_seconds": 5},
            "ttl_seconds",
        ),
        ({"outputs": [THUMB]}, "source"),
    ],
)
def test_an_invalid_job_is_a_422_naming_the_field(api: Client, body: dict, path: str) -> None:
    response = api.post("/jobs", body)

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert path in [detail["path"] for detail in error["details"]]
    assert "Traceback" not in response.text


def test_a_body_that_is_not_json_is_a_400(api: Client) -> None:
    response = api.request("POST", "/jobs", data="{not json", headers={"Content-Type": "application/json"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_request"


def test_a_job_on_an_unknown_upload_fails_with_source_not_found(api: Client) -> None:
    response = api.post("/jobs", {"source": {"upload_id": "upl_01M7YA9N5BT8MD9QV08S0WDDEP"}, "outputs": [THUMB]})

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "source_not_found"
    assert response.json()["error"]["details"][0]["path"] == "source.upload_id"


@pytest.mark.parametrize(
    "url", ["http://example.com/hook", "ftp://example.com/hook", "https://user:pw@example.com/", "not a url"]
)
def test_a_callback_url_that_is_not_https_is_refused(api: Client, url: str) -> None:
    uploaded = upload(api, images.jpeg(16, 16))

    response = api.post("/jobs", {"source": {"upload_id": uploaded}, "outputs": [THUMB], "callback_url": url})

    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["path"] == "callback_url"


def test_metadata_over_2_kb_is_refused(api: Client) -> None:
    uploaded = upload(api, images.jpeg(16, 16))

    response = api.post("/jobs", {"source": {"upload_id": uploaded}, "outputs": [THUMB], "metadata": {"a": "x" * 2100}})

    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["path"] == "metadata"


@pytest.mark.parametrize(
    "headers", [{}, {"X-API-Key": "wrong"}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic eA=="}]
)
def test_requests_without_a_valid_key_are_401(stack: Stack, headers: dict) -> None:
    response = requests.post(
        f"{stack.api_url}/uploads", json={"filename": "a.jpg", "content_type": "image/jpeg"}, headers=headers
    )

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_a_bearer_token_works_like_x_api_key(stack: Stack) -> None:
    response = requests.post(
        f"{stack.api_url}/uploads",
        json={"filename": "a.jpg", "content_type": "image/jpeg"},
        headers={"Authorization": f"Bearer {stack.api_key}"},
    )

    assert response.status_code == 201


def test_another_tenants_job_and_upload_are_not_found(api: Client, other_tenant: Client) -> None:
    uploaded = upload(api, images.jpeg(16, 16))
    job = api.post("/jobs", {"source": {"upload_id": uploaded}, "outputs": [THUMB]}).json()

    read = other_tenant.get(f"/jobs/{job['id']}")
    reuse = other_tenant.post("/jobs", {"source": {"upload_id": uploaded}, "outputs": [THUMB]})

    assert read.status_code == 404
    assert read.json()["error"]["code"] == "not_found"
    assert reuse.status_code == 422
    assert reuse.json()["error"]["code"] == "source_not_found"
    assert api.get(f"/jobs/{job['id']}").status_code == 200


def test_an_unknown_route_is_a_json_404(api: Client) -> None:
    response = api.get("/nothing-here")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_one_call_upload_starts_its_job_when_the_image_lands(api: Client, stack: Stack) -> None:
    # GIVEN a job whose source is an upload still to be made
    created = api.post(
        "/jobs",
        {"source": {"upload": {"filename": "logo.png", "content_type": "image/png"}}, "outputs": [THUMB]},
    )
    assert created.status_code == 202
    job = created.json()
    assert job["status"] == "awaiting_upload"
    form = job["upload"]

    # WHEN the client sends the image with the form in the response, and nothing else
    sent = requests.post(
        form["url"], data=form["fields"], files={"file": ("logo.png", images.png_rgba(64, 48, alpha=128), "image/png")}
    )
    assert sent.status_code == 204
    drain(stack)

    # THEN the job has run
    done = api.get(f"/jobs/{job['id']}").json()
    assert done["status"] == "succeeded"
    assert done["source"] == {
        "upload_id": form["upload_id"],
        "url": None,
        "s3": None,
        "format": "png",
        "width": 64,
        "height": 48,
        "bytes": done["source"]["bytes"],
    }
    assert (done["outputs"][0]["width"], done["outputs"][0]["height"]) == (40, 30)
