"""The catalogues of GET /v1/formats, /v1/operations and /v1/presets, derived from the code that
validates and renders jobs (never listed by hand). They hold no tenant data: the routes are public.
"""

from __future__ import annotations

from functools import cache
from typing import Any, get_args

from pydantic import BaseModel, Field

from imagejobs.spec import formats, presets
from imagejobs.spec.model import Model
from imagejobs.spec.operations import Operation
from imagejobs.spec.outputs import Output

PUBLIC = "Public: catalogues hold no tenant data, so no API key is needed."


class FormatCatalogue(Model):
    formats: list[dict[str, Any]] = Field(
        description="Every format: content types and extensions, whether it is read and written, alpha, "
        "animation, pages, and the output options that apply to it."
    )


class OperationEntry(Model):
    type: str
    parameters: dict[str, Any] = Field(description="The JSON schema of the operation's object, `type` included.")


class OperationCatalogue(Model):
    operations: list[OperationEntry]


class PresetEntry(Model):
    name: str
    description: str
    srcset: bool = Field(description="The job document carries a ready `srcset` per format.")
    outputs: list[Output] = Field(description="What the preset stands for: ordinary outputs.")


class PresetCatalogue(Model):
    presets: list[PresetEntry]


@cache
def format_catalogue() -> FormatCatalogue:
    return FormatCatalogue(formats=formats.catalogue())


@cache
def operation_catalogue() -> OperationCatalogue:
    models: tuple[type[BaseModel], ...] = get_args(get_args(Operation)[0])
    return OperationCatalogue(
        operations=[
            OperationEntry(type=get_args(m.model_fields["type"].annotation)[0], parameters=m.model_json_schema())
            for m in models
        ]
    )


@cache
def preset_catalogue() -> PresetCatalogue:
    return PresetCatalogue(
        presets=[
            PresetEntry(
                name=name,
                description=presets.PRESETS[name].description,
                srcset=presets.PRESETS[name].srcset,
                outputs=presets.expand(name),
            )
            for name in presets.NAMES
        ]
    )
