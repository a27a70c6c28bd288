"""The API about itself: health, the OpenAPI document (served, and equal to what the code makes),
the docs page, CORS for browsers and the version header on every answer."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import requests

from devstack.stack import Stack
from imagejobs import __version__
from tests.e2e.conftest import ROOT
from tests.functional.conftest import Client


def test_health_reports_the_version_and_its_dependencies(stack: Stack) -> None:
    response = requests.get(f"{stack.api_url}/health", timeout=10)

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["version"]) == ("ok", __version__)
    assert {name: d["status"] for name, d in body["dependencies"].items()} == {"table": "ok", "bucket": "ok"}


def test_the_served_openapi_document_is_3_1_and_describes_every_route_of_the_template(stack: Stack) -> None:
    document = requests.get(f"{stack.api_url}/openapi.json", timeout=10).json()

    assert document["openapi"].startswith("3.1")
    template_routes = {
        (event["Properties"]["Method"].lower(), event["Properties"]["Path"])
        for lid in stack.template.resources("AWS::Serverless::Function")
        for event in stack.template.function_properties(lid).get("Events", {}).values()
        if event["Type"] == "Api"
    }
    documented = {(method, path) for path, item in document["paths"].items() for method in item}
    assert documented == template_routes - {("get", "/openapi.json"), ("get", "/docs")}
    create = document["paths"]["/jobs"]["post"]
    assert "202" in create["responses"] and "422" in create["responses"]
    assert create["security"] == [{"apiKey": []}, {"bearer": []}]
    assert "ErrorBody" in document["components"]["schemas"]
    operations = document["components"]["schemas"]
    assert {"Resize", "Crop", "Watermark", "Text"} <= set(operations)


def test_the_committed_openapi_document_matches_the_code() -> None:
    check = subprocess.run(
        [sys.executable, "scripts/openapi.py", "--check"], cwd=ROOT, capture_output=True, text=True, check=False
    )

    assert check.returncode == 0, check.stderr


def test_the_docs_page_loads_the_document(stack: Stack) -> None:
    page = requests.get(f"{stack.api_url}/docs", timeout=10)

    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert 'url: "openapi.json"' in page.text


@pytest.mark.parametrize("path", ["/jobs", "/uploads", "/jobs/job_01M7YA9N5BT8MD9QV08S0WDDEP"])
def test_a_browser_preflight_is_answered_with_the_templates_cors(stack: Stack, path: str) -> None:
    response = requests.options(
        f"{stack.api_url}{path}",
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
        timeout=10,
    )

    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "X-API-Key" in response.headers["Access-Control-Allow-Headers"]


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/uploads", {"filename": "a.jpg", "content_type": "image/jpeg"}, 201),
        ("POST", "/uploads", {"filename": "a.jpg"}, 422),
        ("GET", "/jobs/job_01M7YA9N5BT8MD9QV08S0WDDEP", None, 404),
        ("GET", "/formats", None, 200),
    ],
)
def test_every_answer_carries_the_version_and_cors_headers(
    api: Client, method: str, path: str, body: dict | None, status: int
) -> None:
    response = api.request(method, path, json=body, headers={"Origin": "https://app.example"})

    assert response.status_code == status
    assert response.headers["X-Imagejobs-Version"] == __version__
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_an_answer_api_gateway_makes_itself_carries_cors_and_the_error_body(stack: Stack) -> None:
    response = requests.get(f"{stack.api_url}/jobs", headers={"Origin": "https://app.example"}, timeout=10)

    assert response.status_code == 401
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert json.loads(response.text)["error"]["code"] == "unauthorized"


def test_the_openapi_document_reads_like_an_api_not_a_framework() -> None:
    document = json.loads((ROOT / "functions" / "meta" / "openapi.json").read_text())
    operations = [op for item in document["paths"].values() for op in item.values()]
    text = json.dumps(document)

    assert all(re.fullmatch(r"[a-z]+[A-Za-z]*", op["operationId"]) for op in operations)
    assert {"createJob", "getJob", "listJobs", "retryJob", "deleteJob", "createUpload", "createBatch", "getBatch"} <= {
        op["operationId"] for op in operations
    }
    assert all(op["tags"] for op in operations)
    assert '"const"' not in text and "HTTPValidationError" not in text
    for op in operations:
        for status, response in op["responses"].items():
            assert "X-Imagejobs-Version" in response["headers"]
            assert ("Retry-After" in response["headers"]) == (status == "429")
            if status.startswith(("4", "5")):
                assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
    assert set(document["webhooks"]) == {"jobEnded", "batchCompleted"}
    headers = {p["name"] for p in document["webhooks"]["jobEnded"]["post"]["parameters"]}
    assert headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}
