"""Request bodies read as JSON, strictly and within bounds.

API Gateway hands a function up to 10 MB of anything. What reaches the request models is at
most `MAX_BYTES` of valid JSON nested at most `MAX_DEPTH` deep (checked over the raw text,
before parsing, so the parser never recurses deeper), with finite numbers, unique keys in each
object and valid Unicode in every string. Anything else is refused with the SPEC §2 error body:
413 `too_large` for the size, 400 `malformed_request` naming the problem for the rest.
"""

from __future__ import annotations

import json
import math
import re
from itertools import accumulate
from typing import Any

from imagejobs.errors import MalformedRequestError, TooLargeError

MAX_BYTES = 1024 * 1024  # 100 jobs with 2 KB of metadata and 10 outputs of 5 operations each: 0.74 MB
MAX_DEPTH = 32  # the deepest request (a batch's job's output's operation) is 5; metadata at most 8 more

# A JSON string, up to its closing quote or the end of the text (an unterminated one): every match
# starts at a quote and consumes what it covers, so scanning is linear whatever the text.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def depth(text: str) -> int:
    """How deep arrays and objects nest in `text` (brackets inside strings do not count); no recursion."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def _finite(number: str) -> float:
    value = float(number)
    if not math.isfinite(value):
        raise MalformedRequestError(f"the number {number[:40]} is out of range: numbers must be finite")
    return value


def _integer(number: str) -> int:
    try:
        return int(number)
    except ValueError as error:  # more digits than Python converts (4300)
        raise MalformedRequestError(f"the number {number[:40]}… has too many digits") from error


def _not_a_number(name: str) -> float:
    raise MalformedRequestError(f"{name} is not a JSON number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise MalformedRequestError(f"the key {json.dumps(key)[:80]} appears twice in one object")
        found[key] = value
    return found


def read(text: str) -> Any:
    """The JSON document `text`, refused (TooLargeError, MalformedRequestError) unless it keeps the bounds."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_BYTES:
        raise TooLargeError(f"the body is {size} bytes; the limit is {MAX_BYTES}")
    if depth(text) > MAX_DEPTH:
        raise MalformedRequestError(f"the body nests arrays and objects more than {MAX_DEPTH} deep")
    try:
        document = json.loads(
            text,
            parse_float=_finite,
            parse_int=_integer,
            parse_constant=_not_a_number,
            object_pairs_hook=_unique_keys,
        )
    except json.JSONDecodeError as error:
        raise MalformedRequestError(f"the body is not valid JSON: {error}") from error
    try:
        json.dumps(document, ensure_ascii=False).encode()
    except UnicodeEncodeError as error:
        raise MalformedRequestError("a string in the body is not valid Unicode (a lone UTF-16 surrogate)") from error
    return document
