"""The API about itself: health, the OpenAPI document (served, and equal to what the code makes),
the docs and playground pages and their assets, CORS for browsers and the version header on every
answer, API Gateway's own included."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from urllib.parse import urljoin

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
        if event["Type"] == "Api" and event["Properties"]["Method"] != "options"
    }
    documented = {(method, path) for path, item in document["paths"].items() for method in item}
    pages = {("get", "/openapi.json"), ("get", "/docs"), ("get", "/playground"), ("get", "/static/{name}")}
    assert documented == template_routes - pages
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


def linked(page: str) -> list[str]:
    """What a page fetches (its icon is an empty data: URL, so the browser asks for none)."""
    return [link for link in re.findall(r'(?:src|href|data-spec)="([^"]+)"', page) if link != "data:,"]


@pytest.mark.parametrize("path", ["/docs", "/docs/", "/playground", "/playground/"])
def test_a_page_links_only_its_own_assets_relative_to_where_it_is_served(stack: Stack, path: str) -> None:
    url = f"{stack.api_url}{path}"
    page = requests.get(url, timeout=10)

    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert page.headers["Cache-Control"] == "no-cache"
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    links = linked(page.text)
    assert links, page.text
    for link in links:
        assert "//" not in link, f"{link}: another host"
        target = urljoin(url, link)
        assert target.startswith(f"{stack.api_url}/"), target
        answer = requests.get(target, timeout=10)
        assert answer.status_code == 200, target
        if "/static/" in target:
            assert answer.headers["Content-Type"] in ("text/javascript; charset=utf-8", "text/css; charset=utf-8")
            assert answer.headers["Cache-Control"] == "public, max-age=31536000, immutable"


def test_the_docs_page_runs_swagger_ui_from_the_stack_on_the_document(stack: Stack) -> None:
    page = requests.get(f"{stack.api_url}/docs", timeout=10).text

    assert 'data-spec="openapi.json"' in page
    script = requests.get(urljoin(f"{stack.api_url}/docs", linked(page)[-1]), timeout=10).text
    assert "SwaggerUIBundle(" in script
    assert "validatorUrl: null" in script  # Swagger UI would ask validator.swagger.io otherwise
    bundle = requests.get(f"{stack.api_url}/static/swagger-ui.js", timeout=10)
    assert bundle.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert "SwaggerUIBundle" in bundle.text


def test_an_asset_is_kept_until_it_changes_and_revalidated_by_its_etag(stack: Stack) -> None:
    current = requests.get(f"{stack.api_url}/static/playground.js", timeout=10)
    version = current.headers["ETag"].strip('"')

    pinned = requests.get(f"{stack.api_url}/static/playground.js?v={version}", timeout=10)
    stale = requests.get(f"{stack.api_url}/static/playground.js?v=0123456789abcdef", timeout=10)
    again = requests.get(
        f"{stack.api_url}/static/playground.js", headers={"If-None-Match": current.headers["ETag"]}, timeout=10
    )

    assert current.headers["Cache-Control"] == "no-cache"
    assert pinned.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert stale.headers["Cache-Control"] == "no-cache"  # an old page's link gets today's file, not kept
    assert (again.status_code, again.text, again.headers["ETag"]) == (304, "", current.headers["ETag"])
    assert again.headers["X-Imagejobs-Version"] == __version__


@pytest.mark.parametrize("name", ["nope.js", "docs.html", "..%2Fapp.py", "openapi.json"])
def test_only_the_pages_assets_are_served_as_static_files(stack: Stack, name: str) -> None:
    response = requests.get(f"{stack.api_url}/static/{name}", timeout=10)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_large_answers_are_gzipped_for_clients_that_accept_it(stack: Stack) -> None:
    bundle = requests.get(f"{stack.api_url}/static/swagger-ui.js", headers={"Accept-Encoding": "gzip"}, timeout=10)
    plain = requests.get(f"{stack.api_url}/static/swagger-ui.js", headers={"Accept-Encoding": "identity"}, timeout=10)
    small = requests.get(f"{stack.api_url}/health", headers={"Accept-Encoding": "gzip"}, timeout=10)

    assert bundle.headers["Content-Encoding"] == "gzip"
    assert int(bundle.headers["Content-Length"]) < len(bundle.content) / 2
    assert bundle.text == plain.text
    assert "Content-Encoding" not in plain.headers
    assert "Content-Encoding" not in small.headers


@pytest.mark.parametrize("path", ["/jobs", "/uploads", "/jobs/job_01M7YA9N5BT8MD9QV08S0WDDEP", "/formats"])
def test_a_browser_preflight_is_answered_with_cors_and_the_version(stack: Stack, path: str) -> None:
    response = requests.options(
        f"{stack.api_url}{path}",
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
        timeout=10,
    )

    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert {"X-API-Key", "Authorization", "Idempotency-Key", "Content-Type"} <= set(
        response.headers["Access-Control-Allow-Headers"].split(",")
    )
    assert set(response.headers["Access-Control-Allow-Methods"].split(",")) == {"DELETE", "GET", "OPTIONS", "POST"}
    assert response.headers["Access-Control-Max-Age"] == "3600"
    assert response.headers["X-Imagejobs-Version"] == __version__


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


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [("GET", "/jobs", 401, "unauthorized"), ("GET", "/nowhere", 404, "not_found"), ("PUT", "/jobs", 404, "not_found")],
)
def test_an_answer_api_gateway_makes_itself_carries_cors_the_version_and_the_error_body(
    stack: Stack, method: str, path: str, status: int, code: str
) -> None:
    response = requests.request(method, f"{stack.api_url}{path}", headers={"Origin": "https://app.example"}, timeout=10)

    assert response.status_code == status
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["X-Imagejobs-Version"] == __version__
    assert set(response.headers["Access-Control-Expose-Headers"].split(",")) == {"X-Imagejobs-Version", "Retry-After"}
    assert json.loads(response.text)["error"]["code"] == code


def test_the_openapi_document_reads_like_an_api_not_a_framework() -> None:
    document = json.loads((ROOT / "functions" / "meta" / "openapi.json").read_text())
    operations = [op for item in document["paths"].values() for op in item.values()]
    text = json.dumps(document)

    assert all(re.fullmatch(r"[a-z]+[A-Za-z]*", op["operationId"]) for op in operations)
    assert {
        "createJob",
        "getJob",
        "listJobs",
        "retryJob",
        "deleteJob",
        "createUpload",
        "createBatch",
        "getBatch",
        "getUsage",
    } <= {op["operationId"] for op in operations}
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


def test_every_reference_in_the_openapi_document_names_one_of_its_schemas() -> None:
    document = json.loads((ROOT / "functions" / "meta" / "openapi.json").read_text())
    references = set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', json.dumps(document)))

    assert {"JobCallback", "BatchCallback", "Usage"} <= references  # the webhooks' bodies and the routes'
    assert references <= set(document["components"]["schemas"])
