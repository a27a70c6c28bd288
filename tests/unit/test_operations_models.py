"""The operations' models: what they accept, and what they refuse with an error naming the parameter."""

from __future__ import annotations

from typing import Any, get_args

import pytest
from pydantic import TypeAdapter, ValidationError

from imagejobs.spec.operations import FONTS, OPERATION_TYPES, Filter, FilterName, Font, Operation, Text, rgba

OPERATION: TypeAdapter[Any] = TypeAdapter(Operation)
MARK_ID = "upl_" + "0" * 22 + "MARK"


def parse(kind: str, **params: Any) -> Any:
    return OPERATION.validate_python({"type": kind, **params})


def test_operation_types_are_every_model_of_the_spec() -> None:
    spec = {
        "resize", "crop", "rotate", "flip", "pad", "trim", "blur", "sharpen", "adjust", "filter", "tint",
        "auto_enhance", "text", "watermark", "flatten",
    }  # fmt: skip
    batch_transformation_api = {"zoom"}  # what that API has and the spec's table does not

    assert frozenset(spec | batch_transformation_api) == OPERATION_TYPES


@pytest.mark.parametrize(
    "params",
    [
        {"type": "resize", "width": "50%", "fit": "blur_background", "position": "attention"},
        {"type": "resize", "height": 10, "fit": "outside", "background": "transparent"},
        {"type": "crop", "x": 0, "y": "12.5%", "width": 10, "height": "100%"},
        {"type": "crop", "width": 10, "height": 10, "gravity": "entropy"},
        {"type": "crop", "width": 10, "height": 10},
        {"type": "pad", "left": "0%", "background": "#abc"},
        {"type": "trim"},
        {"type": "blur"},
        {"type": "sharpen", "sigma": 2, "amount": 0},
        {"type": "adjust", "brightness": 0, "contrast": 4, "saturation": 2, "hue": -360, "gamma": 0.1},
        {"type": "filter", "name": "edge_detect"},
        {"type": "tint", "color": "Orange"},
        {"type": "auto_enhance"},
        {"type": "text", "text": "© ACME", "offset_x": -5, "offset_y": "-10%", "font": "mono", "opacity": 0},
        {"type": "watermark", "upload_id": MARK_ID, "width": "25%", "gravity": "northwest"},
        {"type": "flatten", "background": "#ffffffff"},
    ],
)
def test_valid_operations_parse_and_survive_a_round_trip(params: dict[str, Any]) -> None:
    model = OPERATION.validate_python(params)

    assert OPERATION.validate_python(model.model_dump()) == model
    assert OPERATION.validate_json(model.model_dump_json()) == model


@pytest.mark.parametrize(
    ("params", "loc", "words"),
    [
        ({"type": "resize"}, ("resize",), "width, height"),
        ({"type": "resize", "width": 0}, ("resize", "width"), "above 0"),
        ({"type": "resize", "width": "0%"}, ("resize", "width"), "percentage"),
        ({"type": "resize", "width": "half"}, ("resize", "width"), "percentage"),
        ({"type": "resize", "width": 10.5}, ("resize", "width"), "whole pixels"),
        ({"type": "resize", "width": True}, ("resize", "width"), "whole pixels"),
        ({"type": "resize", "width": 10, "fit": "stretch"}, ("resize", "fit"), "blur_background"),
        ({"type": "resize", "width": 10, "position": "top"}, ("resize", "position"), "attention"),
        ({"type": "resize", "width": 10, "background": "#12"}, ("resize", "background"), "#rrggbb"),
        ({"type": "crop", "width": 10}, ("crop", "height"), "required"),
        ({"type": "crop", "width": 10, "height": 10, "x": 5}, ("crop",), "both x and y"),
        ({"type": "crop", "width": 10, "height": 10, "x": 5, "y": 5, "gravity": "north"}, ("crop",), "not both"),
        ({"type": "crop", "width": 10, "height": 10, "x": -1, "y": 0}, ("crop", "x"), "0 or more"),
        ({"type": "crop", "width": 10, "height": 10, "x": 0, "y": "-5%"}, ("crop", "y"), "0 or more"),
        ({"type": "rotate", "angle": 400}, ("rotate", "angle"), "360"),
        ({"type": "flip", "direction": "diagonal"}, ("flip", "direction"), "horizontal"),
        ({"type": "pad"}, ("pad",), "at least one of top, right, bottom, left"),
        ({"type": "pad", "top": -2}, ("pad", "top"), "0 or more"),
        ({"type": "pad", "top": 2, "background": "rgb(0,0,0)"}, ("pad", "background"), "#rrggbb"),
        ({"type": "trim", "threshold": 300}, ("trim", "threshold"), "255"),
        ({"type": "trim", "background": "beige"}, ("trim", "background"), "#rrggbb"),
        ({"type": "blur", "sigma": 0}, ("blur", "sigma"), "0.3"),
        ({"type": "sharpen", "amount": -1}, ("sharpen", "amount"), "0"),
        ({"type": "sharpen", "sigma": 50}, ("sharpen", "sigma"), "10"),
        ({"type": "adjust", "brightness": 5}, ("adjust", "brightness"), "4"),
        ({"type": "adjust", "hue": 400}, ("adjust", "hue"), "360"),
        ({"type": "adjust", "gamma": 0}, ("adjust", "gamma"), "0.1"),
        ({"type": "filter", "name": "blurry"}, ("filter", "name"), "grayscale"),
        ({"type": "filter"}, ("filter", "name"), "required"),
        ({"type": "tint"}, ("tint", "color"), "required"),
        ({"type": "auto_enhance", "level": 2}, ("auto_enhance", "level"), "not permitted"),
        ({"type": "text", "text": "  "}, ("text", "text"), "blank"),
        ({"type": "text", "text": ""}, ("text", "text"), "at least 1"),
        ({"type": "text", "text": "x", "size": 2}, ("text", "size"), "4"),
        ({"type": "text", "text": "x", "font": "comic"}, ("text", "font"), "sans"),
        ({"type": "text", "text": "x", "opacity": 1.5}, ("text", "opacity"), "1"),
        ({"type": "text", "text": "x", "gravity": "entropy"}, ("text", "gravity"), "northwest"),
        ({"type": "text", "text": "x", "offset_x": "ten"}, ("text", "offset_x"), "percentage"),
        ({"type": "watermark", "upload_id": "abc"}, ("watermark", "upload_id"), "upl_"),
        ({"type": "watermark", "upload_id": MARK_ID, "width": 0}, ("watermark", "width"), "above 0"),
        ({"type": "flatten", "background": "#ffffff80"}, ("flatten", "background"), "opaque"),
    ],
)
def test_an_invalid_parameter_is_refused_naming_it(params: dict[str, Any], loc: tuple[str, ...], words: str) -> None:
    with pytest.raises(ValidationError) as failure:
        OPERATION.validate_python(params)

    [error] = failure.value.errors()
    assert error["loc"] == loc
    assert words in error["msg"]


def test_an_unknown_type_is_refused_listing_the_types() -> None:
    with pytest.raises(ValidationError, match="watermark"):
        OPERATION.validate_python({"type": "sparkle"})


@pytest.mark.parametrize(
    ("color", "expected"),
    [
        ("#ff8000", (255, 128, 0, 255)),
        ("#FF800080", (255, 128, 0, 128)),
        ("#abc", (170, 187, 204, 255)),
        ("#abcd", (170, 187, 204, 221)),
        ("white", (255, 255, 255, 255)),
        ("Transparent", (0, 0, 0, 0)),
    ],
)
def test_colours_parse_to_rgba(color: str, expected: tuple[int, int, int, int]) -> None:
    assert rgba(color) == expected


def test_the_filter_names_and_fonts_are_listed_in_the_schema() -> None:
    assert Filter.model_json_schema()["properties"]["name"]["enum"] == list(get_args(FilterName))
    assert Text.model_json_schema()["properties"]["font"]["enum"] == list(get_args(Font)) == list(FONTS)


def test_pixel_values_say_in_the_schema_that_they_take_pixels_or_percentages() -> None:
    width = OPERATION.json_schema()["$defs"]["Crop"]["properties"]["width"]

    assert [variant["type"] for variant in width["oneOf"]] == ["integer", "string"]
    assert width["oneOf"][0]["minimum"] == 1
    assert "%" in width["oneOf"][1]["pattern"]
