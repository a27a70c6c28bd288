"""Hostile request bodies to POST /v1/jobs, /v1/uploads and /v1/batches: deep nesting, huge
sizes, broken Unicode, numbers JSON cannot hold, repeated keys, wrong types everywhere. Each is
answered 4xx with the SPEC §2 error body; none is a 5xx."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from devstack.stack import Stack
from imagejobs import jsonbody
from imagejobs.services import accounts
from tests.functional.conftest import Client

ROUTES = ("/jobs", "/uploads", "/batches")
MAX = jsonbody.MAX_BYTES


def send(api: Client, route: str, body: bytes | str) -> requests.Response:
    """POSTs raw bytes as JSON; waits out API Gateway's rate limit (this module sends hundreds)."""
    data = body.encode() if isinstance(body, str) else body
    for _ in range(30):
        response = api.request("POST", route, data=data, headers={"Content-Type": "application/json"})
        if response.status_code != 429:
            return response
        time.sleep(0.5)
    raise AssertionError("still throttled after 15 s")


def assert_refused(response: requests.Response, *statuses: int) -> dict[str, Any]:
    """A 4xx (one of `statuses` when given) with exactly the SPEC §2 error body; its `error`."""
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    if statuses:
        assert response.status_code in statuses, (response.status_code, response.text[:300])
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"code", "message", "details"}
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], list)
    for detail in error["details"]:
        assert set(detail) == {"path", "message"}
        assert isinstance(detail["path"], str) and isinstance(detail["message"], str)
    assert "Traceback" not in response.text
    return dict(error)


@pytest.fixture(scope="module")
def api(stack: Stack) -> Client:
    """A tenant of its own: its key's rate limit is not the one the other tests' key meets."""
    tenant = accounts.create_tenant("hostile bodies")
    return Client(stack, accounts.create_key(tenant.id, "corpus"))


@pytest.fixture(scope="module")
def valid(api: Client) -> dict[str, dict[str, Any]]:
    """A valid body for each route; jobs wait for an upload that never lands, so nothing runs."""
    upload = api.post("/uploads", {"filename": "photo.jpg", "content_type": "image/jpeg"}).json()["upload_id"]
    job = {
        "source": {"upload_id": upload, "pages": "1", "dpi": 150},
        "outputs": [
            {
                "name": "thumb",
                "format": "webp",
                "quality": 80,
                "lossless": False,
                "operations": [
                    {"type": "resize", "width": 100, "height": 100, "fit": "cover", "without_enlargement": True},
                    {"type": "text", "text": "©", "gravity": "southeast", "opacity": 0.5},
                ],
            }
        ],
        "callback_url": "https://hooks.example.test/images",
        "metadata": {"order": "1234"},
        "ttl_seconds": 3600,
    }
    return {
        "/uploads": {"filename": "photo.jpg", "content_type": "image/jpeg", "size_bytes": 1000},
        "/jobs": job,
        "/batches": {"jobs": [job], "callback_url": "https://hooks.example.test/batches", "metadata": {"b": 1}},
    }


def test_the_valid_bodies_are_accepted(api: Client, valid: dict[str, dict[str, Any]]) -> None:
    # The bodies the corpus below breaks are accepted as they are: a refusal below is the breakage's.
    for route, status in (("/uploads", 201), ("/jobs", 202), ("/batches", 202)):
        response = send(api, route, json.dumps(valid[route]))
        assert response.status_code == status, response.text


def nested(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for level in range(depth):
        value = {"a": value} if level % 2 else [value]
    return value


# ---- raw bodies, the same for every route ----------------------------------------------------

RAW: dict[str, bytes | str] = {
    # depth
    "arrays-33-deep": "[" * 33 + "]" * 33,
    "arrays-100000-deep": "[" * 100_000 + "]" * 100_000,
    "objects-10000-deep": '{"a":' * 10_000 + "1" + "}" * 10_000,
    "unclosed-50000-deep": '[{"a":' * 50_000,
    "deep-value-in-a-valid-field": json.dumps({"source": nested(200), "filename": nested(200)}),
    # size
    "a-2-MB-string": json.dumps({"filename": "a" * 2_000_000, "content_type": "image/jpeg"}),
    "whitespace-over-the-limit": " " * MAX + "{}",
    "a-string-just-under-the-limit": json.dumps({"filename": "a" * (MAX - 100)}),
    "50000-unknown-keys": json.dumps({f"k{i}": i for i in range(50_000)}),
    "one-900-kB-key": json.dumps({"k" * 900_000: 1}),
    "100000-element-array": json.dumps({"jobs": [0] * 100_000, "outputs": [0] * 100_000}),
    # Unicode
    "lone-high-surrogate": '{"filename": "\\ud800.jpg", "content_type": "image/jpeg", "source": "\\ud800"}',
    "lone-low-surrogate-in-a-key": '{"\\udc00": 1}',
    "reversed-surrogate-pair": '{"filename": "\\ude00\\ud83d"}',
    "invalid-utf8-in-structure": b'{"filename"\xff: "a.jpg"}',
    "invalid-utf8-only": b"\xff\xfe\xfd",
    "overlong-utf8-slash": b'{"filename": "\xc0\xaf", "content_type": 1}',
    "utf16-body": '{"filename": "a.jpg"}'.encode("utf-16"),
    "utf8-bom": b'\xef\xbb\xbf{"filename": "a.jpg", "content_type": "image/jpeg"}',
    "nul-and-controls": '{"\\u0000": "\\u0000\\u001f\\u202e", "source": "\\u0000"}',
    # numbers
    "nan": '{"ttl_seconds": NaN, "size_bytes": NaN}',
    "infinity": '{"ttl_seconds": Infinity}',
    "minus-infinity": '{"size_bytes": -Infinity}',
    "1e999": '{"ttl_seconds": 1e999, "size_bytes": 1e999, "jobs": 1e999}',
    "5000-digits": '{"ttl_seconds": 1' + "0" * 5000 + "}",
    "400-digit-integer": '{"size_bytes": 1' + "0" * 400 + ', "ttl_seconds": 1' + "0" * 400 + "}",
    # repeated keys
    "repeated-top-level-key": '{"filename": "a.jpg", "filename": "b.jpg", "content_type": "image/jpeg"}',
    "repeated-nested-key": '{"source": {"url": "https://a.test/a.jpg", "url": "https://b.test/b.jpg"}}',
    # not an object, or not JSON
    "empty": "",
    "spaces": "   ",
    "null": "null",
    "true": "true",
    "zero": "0",
    "string": '"x"',
    "array": "[]",
    "empty-object": "{}",
    "two-documents": "{}{}",
    "trailing-garbage": "{} x",
    "single-quotes": "{'filename': 'a.jpg'}",
    "trailing-comma": '{"filename": "a.jpg",}',
    "unquoted-key": "{filename: 1}",
    "comment": '/* hi */ {"filename": "a.jpg"}',
    "unterminated-string": '{"filename": "a.jpg',
}


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("name", list(RAW))
def test_a_hostile_raw_body_is_a_4xx_with_the_error_body(api: Client, route: str, name: str) -> None:
    assert_refused(send(api, route, RAW[name]))


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(
    "name", ["arrays-33-deep", "arrays-100000-deep", "objects-10000-deep", "deep-value-in-a-valid-field"]
)
def test_a_body_nested_too_deep_is_a_400_naming_the_depth(api: Client, route: str, name: str) -> None:
    error = assert_refused(send(api, route, RAW[name]), 400)
    assert error["code"] == "malformed_request"
    assert "more than 32 deep" in error["message"]


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("name", ["a-2-MB-string", "whitespace-over-the-limit"])
def test_a_body_over_the_size_limit_is_a_413(api: Client, route: str, name: str) -> None:
    error = assert_refused(send(api, route, RAW[name]), 413)
    assert error["code"] == "too_large"
    assert f"the limit is {MAX}" in error["message"]


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("nan", "NaN is not a JSON number"),
        ("1e999", "is out of range"),
        ("5000-digits", "too many digits"),
        ("repeated-top-level-key", 'the key "filename" appears twice'),
        ("lone-high-surrogate", "not valid Unicode"),
        ("lone-low-surrogate-in-a-key", "not valid Unicode"),
    ],
)
def test_what_json_cannot_hold_plainly_is_a_400_naming_it(api: Client, name: str, problem: str) -> None:
    error = assert_refused(send(api, "/uploads", RAW[name]), 400)
    assert (error["code"], error["details"]) == ("malformed_request", [])
    assert problem in error["message"]


def test_a_422_names_at_most_50_fields_with_short_paths(api: Client) -> None:
    many = assert_refused(send(api, "/uploads", RAW["50000-unknown-keys"]), 422)
    assert len(many["details"]) == 50
    long = assert_refused(send(api, "/uploads", RAW["one-900-kB-key"]), 422)
    assert max(len(detail["path"]) for detail in long["details"]) <= 200
    assert len(long["message"]) < 1000


# ---- metadata: deep values inside its 2 KB ---------------------------------------------------


@pytest.mark.parametrize("route", ["/jobs", "/batches"])
@pytest.mark.parametrize("depth", [9, 20, 30])
def test_metadata_nested_deeper_than_8_is_a_422_on_metadata(
    api: Client, valid: dict[str, dict[str, Any]], route: str, depth: int
) -> None:
    body = copy.deepcopy(valid[route])
    body["metadata"] = {"deep": nested(depth - 1)}
    assert len(json.dumps(body["metadata"])) < 2048

    error = assert_refused(send(api, route, json.dumps(body)), 422)

    assert error["details"] == [{"path": "metadata", "message": "nests objects and arrays more than 8 levels deep"}]


def test_metadata_nested_8_deep_is_kept(api: Client, valid: dict[str, dict[str, Any]]) -> None:
    body = {**valid["/jobs"], "metadata": {"deep": nested(7, "leaf")}}

    response = send(api, "/jobs", json.dumps(body))

    assert response.status_code == 202, response.text
    assert response.json()["metadata"] == body["metadata"]


@pytest.mark.parametrize("value", ["NaN", "1e999", '"\\ud800"', "-Infinity"])
def test_metadata_values_json_cannot_hold_are_refused(
    api: Client, valid: dict[str, dict[str, Any]], value: str
) -> None:
    text = json.dumps({**valid["/jobs"], "metadata": {"x": "PLACEHOLDER"}}).replace('"PLACEHOLDER"', value)
    assert_refused(send(api, "/jobs", text), 400)


# ---- wrong types everywhere ------------------------------------------------------------------

# For each JSON type, values of other types that no field of that type takes (not null: optional
# fields take it).
WRONG: dict[type, list[Any]] = {
    str: [12, 1.5, True, [], {}, ["x"]],
    int: ["x", 1.5, [], {}, [1]],
    float: ["x", [], {}, [0.5]],
    bool: ["x", 1.5, [], {}, [True]],
    list: ["x", 1, True, {}],
    dict: ["x", 1, True, [], [{}]],
}


def leaves(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    """Every path in a body and the value there (metadata's own content is free-form: not entered)."""
    yield path, value
    if path and path[-1] == "metadata":
        return
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        yield from leaves(child, (*path, key))


def replaced(body: Any, path: tuple[str | int, ...], value: Any) -> Any:
    copied = copy.deepcopy(body)
    target = copied
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return copied


def wrong_typed(valid: dict[str, dict[str, Any]]) -> Iterator[tuple[str, str, Any]]:
    for route, body in valid.items():
        for path, value in leaves(body):
            if not path:
                continue
            for wrong in WRONG[type(value)]:
                yield route, ".".join(map(str, path)), replaced(body, path, wrong)


def related(path: str, named: list[str]) -> bool:
    """Whether an error's paths name the field at `path` ("outputs.0.name"), a field within it or
    one holding it."""
    dotted = [name.replace("[", ".").replace("]", "") for name in named]
    return any(name in ("", path) or path.startswith(f"{name}.") or name.startswith(f"{path}.") for name in dotted)


def test_a_wrong_type_anywhere_is_a_4xx_naming_the_field(api: Client, valid: dict[str, dict[str, Any]]) -> None:
    accepted = []
    unnamed = []
    sent = 0
    for route, path, body in wrong_typed(valid):
        response = send(api, route, json.dumps(body))
        sent += 1
        if response.status_code < 400:  # collected, so one run lists every miss
            accepted.append((route, path, response.status_code))
            continue
        error = assert_refused(response)
        if error["code"] == "invalid_request" and not related(path, [d["path"] for d in error["details"]]):
            unnamed.append((route, path, error["details"]))
    assert accepted == []
    assert unnamed == []
    assert sent > 150
