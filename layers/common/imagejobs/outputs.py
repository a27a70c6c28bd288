"""An output: its name, its pipeline of operations, and how it is encoded."""

from __future__ import annotations

from pydantic import Field

from imagejobs.formats import OutputFormat
from imagejobs.pipeline import Operation, Strict


class Output(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    format: OutputFormat
    quality: int | None = Field(default=None, ge=1, le=100)
    operations: list[Operation] = Field(default_factory=list, max_length=20)
