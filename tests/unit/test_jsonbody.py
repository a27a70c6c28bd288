"""imagejobs.jsonbody: request bodies read as JSON within bounds of size and depth, strictly."""

from __future__ import annotations

import json
import time

import pytest

from imagejobs import jsonbody
from imagejobs.errors import MalformedRequestError, TooLargeError


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("{}", 1),
        ("1", 0),
        ('"[[[{{{"', 0),
        ('{"a": [{"b": "]]]}}}[[["}, [1, [2]]]}', 4),
        ('["\\"[[", [["\\\\"], "[["]]', 3),
        ('"unterminated [[[', 0),
        ("[" * 40 + "]" * 40, 40),
        ('{"a":' * 33 + "1" + "}" * 33, 33),
    ],
)
def test_depth_counts_the_nesting_outside_strings(text: str, depth: int) -> None:
    assert jsonbody.depth(text) == depth


@pytest.mark.parametrize(
    "text",
    [
        pytest.param('"' + '\\"[' * 300_000, id="an-unterminated-string-of-escaped-quotes"),
        pytest.param("[]" * 500_000, id="a-million-brackets"),
        pytest.param('["' + "a" * 1_000_000 + '"]', id="one-long-string"),
        pytest.param('"",' * 300_000, id="many-short-strings"),
    ],
)
def test_depth_is_linear_in_the_texts_length(text: str) -> None:
    # A scan restarting at every quote would take minutes on these; a linear one well under a second.
    started = time.monotonic()
    jsonbody.depth(text)
    assert time.monotonic() - started < 3


def test_a_body_within_the_bounds_is_read() -> None:
    body = {"source": {"url": "https://a.test/x.jpg"}, "metadata": {"é": "😀", "n": [1, 2.5, None, True]}}
    assert jsonbody.read(json.dumps(body)) == body
    assert jsonbody.read(json.dumps(body, ensure_ascii=False)) == body


def test_nesting_up_to_the_limit_is_read_and_one_more_is_refused() -> None:
    deepest = "[" * jsonbody.MAX_DEPTH + "]" * jsonbody.MAX_DEPTH
    expected: list = []
    for _ in range(jsonbody.MAX_DEPTH - 1):
        expected = [expected]
    assert jsonbody.read(deepest) == expected
    with pytest.raises(MalformedRequestError, match="more than 32 deep") as caught:
        jsonbody.read("[" + deepest + "]")
    assert (caught.value.status, caught.value.code) == (400, "malformed_request")


@pytest.mark.parametrize("depth", [1000, 100_000])
def test_a_body_nested_deeper_than_python_recurses_is_refused_before_parsing(depth: int) -> None:
    with pytest.raises(MalformedRequestError, match="nests arrays and objects more than 32 deep"):
        jsonbody.read("[" * depth + "]" * depth)


def test_a_body_over_the_size_limit_is_a_413_counted_in_utf8_bytes() -> None:
    fits = json.dumps("é" * ((jsonbody.MAX_BYTES - 2) // 2), ensure_ascii=False)
    assert len(fits.encode()) <= jsonbody.MAX_BYTES
    assert jsonbody.read(fits)
    with pytest.raises(TooLargeError, match=f"the limit is {jsonbody.MAX_BYTES}") as caught:
        jsonbody.read(json.dumps("é" * (jsonbody.MAX_BYTES // 2), ensure_ascii=False))
    assert (caught.value.status, caught.value.code) == (413, "too_large")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"a": NaN}', "NaN is not a JSON number"),
        ("[Infinity]", "Infinity is not a JSON number"),
        ("[-Infinity]", "-Infinity is not a JSON number"),
        ("[1e999]", "the number 1e999 is out of range"),
        ("[-1e400]", "the number -1e400 is out of range"),
        ("[1" + "0" * 5000 + "]", "has too many digits"),
        ('{"a": 1, "a": 2}', 'the key "a" appears twice'),
        ('{"x": {"b": [], "b": {}}}', 'the key "b" appears twice'),
        ('["\\ud800"]', "not valid Unicode"),
        ('{"\\udfff": 1}', "not valid Unicode"),
        ('["\\ude00\\ud83d"]', "not valid Unicode"),
        ("{", "not valid JSON"),
        ("{} []", "not valid JSON: Extra data"),
        ("\ufeff{}", "not valid JSON"),
        ("{'a': 1}", "not valid JSON"),
        ('{"a": 1,}', "not valid JSON"),
    ],
)
def test_what_is_not_plain_json_is_refused_naming_the_problem(text: str, problem: str) -> None:
    with pytest.raises(MalformedRequestError) as caught:
        jsonbody.read(text)
    assert problem in caught.value.message
    assert (caught.value.status, caught.value.code) == (400, "malformed_request")


def test_a_surrogate_pair_is_one_valid_character() -> None:
    assert jsonbody.read('["\\ud83d\\ude00"]') == ["😀"]
