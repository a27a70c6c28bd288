"""Outputs written on one line, for the command line: `thumb:webp:resize=400x400,cover:quality=80`.

    NAME:FORMAT[:STEP]...

Each STEP is an encoding option of the output when its name is one (`quality=80`, `max_bytes=150000`,
`lossless`: the options the formats catalogue lists), and otherwise an operation, in order:
`TYPE[=ARG,ARG,…]`. An ARG is `key=value`, or a bare value that fills the operation's next
parameter in `POSITIONAL`: `resize=400x400,cover,attention` is
`{"type": "resize", "width": 400, "height": 400, "fit": "cover", "position": "attention"}`.
A size is `WxH` (`400x` or `x300` for one side, `50%x50%`), and for `crop` also `WxH+X+Y`.
Values that read as numbers or true/false are sent as such; the rest as strings.

What does not fit this (a text with `:` or `,`, ICO `sizes`) is written as JSON: the `--output` of
the command also takes an output's JSON object, and `--output-spec` a file of them.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

# What bare values of each operation fill, in order; "size" is `WxH` (crop: `WxH+X+Y` too).
POSITIONAL: dict[str, tuple[str, ...]] = {
    "resize": ("size", "fit", "position"),
    "crop": ("size", "gravity"),
    "rotate": ("angle", "background"),
    "flip": ("direction",),
    "pad": ("top", "right", "bottom", "left", "background"),
    "trim": ("threshold",),
    "blur": ("sigma",),
    "sharpen": ("sigma", "amount"),
    "filter": ("name",),
    "tint": ("color",),
    "text": ("text",),
    "watermark": ("upload_id", "gravity"),
    "flatten": ("background",),
}

_SIZE = re.compile(r"(?P<width>[^x+]*)x(?P<height>[^x+]*)(?:\+(?P<x>[^+]+)\+(?P<y>[^+]+))?")
_INT = re.compile(r"-?\d+")
_FLOAT = re.compile(r"-?\d*\.\d+")


def value(text: str) -> Any:
    """`80` as 80, `1.5` as 1.5, `true` as True; anything else (`50%`, `#ff8800`, `cover`) as it is."""
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    return {"true": True, "false": False}.get(text, text)


def _size(operation: str, text: str) -> dict[str, Any]:
    match = _SIZE.fullmatch(text)
    if match is None:
        if _INT.fullmatch(text) or text.endswith("%"):
            return {"width": value(text)}
        raise ValueError(f"{operation}: {text!r} is not a size: give WxH, Wx or xH")
    if match["x"] is not None and operation != "crop":
        raise ValueError(f"{operation}: {text!r}: only crop takes an offset (+X+Y)")
    parts = {key: part for key, part in match.groupdict().items() if part}
    if not parts:
        raise ValueError(f"{operation}: {text!r} gives neither width nor height")
    return {key: value(part) for key, part in parts.items()}


def _operation(kind: str, arguments: str | None) -> dict[str, Any]:
    operation: dict[str, Any] = {"type": kind}
    slots = list(POSITIONAL.get(kind, ()))
    for argument in [] if arguments is None else arguments.split(","):
        key, sep, text = argument.partition("=")
        if sep:
            operation[key] = value(text)
            continue
        if not slots:
            taken = POSITIONAL.get(kind)
            expected = f"at most {len(taken)} bare values" if taken else "only key=value arguments"
            raise ValueError(f"{kind}: {argument!r}: {kind} takes {expected}")
        slot = slots.pop(0)
        operation.update(_size(kind, argument) if slot == "size" else {slot: value(argument)})
    return operation


def parse_output(text: str, options: Collection[str]) -> dict[str, Any]:
    """`NAME:FORMAT[:STEP]...` as an output's JSON; `options` are the output fields that are not
    operations (the formats catalogue's `options`)."""
    name, _, rest = text.partition(":")
    output_format, _, steps = rest.partition(":")
    if not name or not output_format:
        raise ValueError(f"{text!r}: an output is NAME:FORMAT[:STEP]..., as thumb:webp:resize=400x400,cover")
    output: dict[str, Any] = {"name": name, "format": output_format}
    operations = []
    for step in steps.split(":") if steps else []:
        key, sep, argument = step.partition("=")
        if not key:
            raise ValueError(f"{text!r}: an empty step")
        if key in options:
            output[key] = value(argument) if sep else True
        else:
            operations.append(_operation(key, argument if sep else None))
    if operations:
        output["operations"] = operations
    return output


def spec_from_json(data: Any) -> dict[str, Any]:
    """One output's JSON, a list of them, or `{"preset": NAME}` (what `imagejobs process` reads), as
    the `outputs` or the `preset` of a job request."""
    if isinstance(data, dict) and "preset" in data:
        if set(data) != {"preset"}:
            raise ValueError('a preset spec is {"preset": NAME} and nothing else')
        return {"preset": data["preset"]}
    if isinstance(data, dict):
        return {"outputs": [data]}
    if isinstance(data, list) and all(isinstance(output, dict) for output in data):
        return {"outputs": data}
    raise ValueError('an output spec is an output object, a list of them, or {"preset": NAME}')
