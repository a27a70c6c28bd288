"""The operations of an output's pipeline: one model per type, discriminated on `type`.

Codec-free: the API validates with these; the engine (`imagejobs.engine.operations`) runs them.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


Position = Literal["centre", "north", "northeast", "east", "southeast", "south", "southwest", "west", "northwest"]
Pixels = Annotated[int, Field(ge=1)]


class Resize(Strict):
    """Scale to `width` and/or `height`; `fit` says what happens when both are given."""

    type: Literal["resize"]
    width: Pixels | None = None
    height: Pixels | None = None
    fit: Literal["cover", "contain", "inside", "fill"] = "cover"
    position: Position = "centre"
    without_enlargement: bool = False
    background: str = Field(default="#000000", pattern=r"^#[0-9a-fA-F]{6}([0-9a-fA-F]{2})?$")

    @model_validator(mode="after")
    def _one_side(self) -> Resize:
        if self.width is None and self.height is None:
            raise ValueError("give width, height or both")
        return self


class Rotate(Strict):
    type: Literal["rotate"]
    angle: float = Field(ge=-360, le=360)
    background: str = Field(default="#000000", pattern=r"^#[0-9a-fA-F]{6}([0-9a-fA-F]{2})?$")


class Flip(Strict):
    type: Literal["flip"]
    direction: Literal["horizontal", "vertical", "both"] = "horizontal"


Operation = Annotated[Resize | Rotate | Flip, Field(discriminator="type")]
OPERATION_TYPES: frozenset[str] = frozenset(
    get_args(model.model_fields["type"].annotation)[0] for model in get_args(get_args(Operation)[0])
)
