"""GET /v1/formats, /v1/operations, /v1/presets: public, machine-readable, derived from the code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import get_args

import pytest
import requests

from devstack.stack import Stack
from imagejobs.spec import formats, presets
from imagejobs.spec.operations import OPERATION_TYPES, Operation

EVENTS = Path(__file__).resolve().parents[2] / "events"


def public_get(stack: Stack, path: str) -> requests.Response:
    """A request with no API key: the catalogues hold no tenant data."""
    return requests.get(f"{stack.api_url}{path}", timeout=30)


@pytest.mark.parametrize("path", ["/formats", "/operations", "/presets"])
def test_the_catalogues_need_no_api_key(stack: Stack, path: str) -> None:
    response = public_get(stack, path)

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")


def test_formats_lists_every_format_of_the_formats_catalogue(stack: Stack) -> None:
    listed = {entry["name"]: entry for entry in public_get(stack, "/formats").json()["formats"]}

    assert set(listed) == set(formats.FORMATS)
    assert {name for name, entry in listed.items() if entry["write"]} == set(formats.OUTPUTS)
    assert listed["jpeg"]["content_type"] == "image/jpeg"


def test_operations_gives_each_operations_json_schema(stack: Stack) -> None:
    listed = {entry["type"]: entry["parameters"] for entry in public_get(stack, "/operations").json()["operations"]}

    assert set(listed) == OPERATION_TYPES
    for model in get_args(get_args(Operation)[0]):
        [type_] = get_args(model.model_fields["type"].annotation)
        assert listed[type_] == json.loads(json.dumps(model.model_json_schema())), type_
    resize = listed["resize"]["properties"]
    assert {"width", "height", "fit", "position", "without_enlargement"} <= set(resize)
    assert "cover" in resize["fit"]["enum"]


def test_presets_gives_each_preset_with_the_outputs_it_stands_for(stack: Stack) -> None:
    listed = {entry["name"]: entry for entry in public_get(stack, "/presets").json()["presets"]}

    assert list(listed) == list(presets.NAMES)
    for name, entry in listed.items():
        expected = [output.model_dump(mode="json") for output in presets.expand(name)]
        assert entry["outputs"] == expected, name
        assert entry["description"] == presets.PRESETS[name].description
    [post] = listed["instagram-feed"]["outputs"]
    assert (post["format"], post["operations"][0]["width"], post["operations"][0]["height"]) == ("jpeg", 1080, 1350)
    if "responsive" in listed:
        assert listed["responsive"]["srcset"] is True


def test_the_event_file_runs_through_the_catalogue_function(stack: Stack) -> None:
    event = json.loads((EVENTS / "catalogue_presets.json").read_text())

    response = stack.function("CatalogueFunction").invoke(event)

    assert response["statusCode"] == 200
    assert "instagram-feed" in {entry["name"] for entry in json.loads(response["body"])["presets"]}
