"""pydantic's validation errors as the error details of SPEC §2: a path that names the field."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from imagejobs.spec.operations import OPERATION_TYPES


def path(loc: Sequence[str | int]) -> str:
    """("body", "outputs", 0, "operations", 2, "resize", "width") -> "outputs[0].operations[2].width"."""
    text = ""
    parts = list(loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc)
    for index, part in enumerate(parts):
        if isinstance(part, int):
            text += f"[{part}]"
        elif index > 0 and isinstance(parts[index - 1], int) and part in OPERATION_TYPES:
            continue  # the discriminator's tag, not a field
        else:
            text += f".{part}" if text else str(part)
    return text


def details(errors: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    return [
        {"path": path(e.get("loc", ())), "message": str(e.get("msg", "is not valid")).removeprefix("Value error, ")}
        for e in errors
    ]


def summary(found: Sequence[dict[str, str]], whole: str = "body") -> str:
    """The first detail as one line, for the error's message."""
    first = found[0] if found else {"path": "", "message": "is not valid"}
    return f"{first['path'] or whole}: {first['message']}"
