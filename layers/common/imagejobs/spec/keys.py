"""Object keys in the deployer's connected buckets, and the key templates outputs are written to.

A key template is a key with placeholders in braces, filled in for each output when it is written:

    products/{source_stem}/{name}-{width}x{height}.{ext}

| placeholder | value |
|---|---|
| `{job_id}` | the job's id |
| `{name}` | the output's name (`thumb`; `thumb-p2` for page 2 when several pages are selected) |
| `{ext}` | the output's file extension (`webp`; what `auto` chose) |
| `{width}`, `{height}` | the output's size in pixels |
| `{source_key}` | the source's key (`products/123.heic`), or an upload's file name |
| `{source_stem}` | its last segment without the extension (`123`) |
| `{source_dir}` | what is before its last `/` (`products`; empty for a key without one) |
| `{metadata.<field>}` | a field of the job's `metadata`: a string, number or boolean |

Braces are only for placeholders. A key (filled in) may not start with `/`, have a `..` segment or
a control character, or be longer than 1024 bytes (UTF-8), S3's limit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_KEY_BYTES = 1024
BUCKET_PATTERN = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
PLACEHOLDERS = ("job_id", "name", "ext", "width", "height", "source_key", "source_stem", "source_dir")
SOURCE_PLACEHOLDERS = ("source_key", "source_stem", "source_dir")
METADATA = "metadata."
_TOKEN = re.compile(r"\{([^{}]*)\}|([{}])|([^{}]+)")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class InvalidKeyError(ValueError):
    """A key or key template that S3 or this service would not take (a ValueError, so pydantic
    reports it on the field)."""


@dataclass(frozen=True)
class Placeholder:
    name: str  # job_id, width, metadata.order, …

    def __str__(self) -> str:
        return "{" + self.name + "}"


def check_key(key: str) -> str:
    """`key` when it is a key an output may be written to; else InvalidKeyError saying why."""
    if not key:
        raise InvalidKeyError("is empty")
    if _CONTROL.search(key):
        raise InvalidKeyError("has a control character")
    if key.startswith("/"):
        raise InvalidKeyError("starts with /")
    if ".." in key.split("/"):
        raise InvalidKeyError("has a .. segment")
    if len(key.encode()) > MAX_KEY_BYTES:
        raise InvalidKeyError(f"is {len(key.encode())} bytes long; S3 keys are at most {MAX_KEY_BYTES}")
    return key


@dataclass(frozen=True)
class KeyTemplate:
    text: str
    parts: tuple[str | Placeholder, ...]

    @classmethod
    def parse(cls, text: str) -> KeyTemplate:
        """The template, or InvalidKeyError for an unknown placeholder, a stray brace, or a key that no
        values could make valid (a leading `/`, a `..` segment, a control character, too long)."""
        parts: list[str | Placeholder] = []
        for match in _TOKEN.finditer(text):
            name, brace, literal = match.groups()
            if brace is not None:
                raise InvalidKeyError(f"has a {brace} outside a placeholder: braces are only for placeholders")
            if literal is not None:
                parts.append(literal)
                continue
            if name not in PLACEHOLDERS and not (name.startswith(METADATA) and len(name) > len(METADATA)):
                known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
                raise InvalidKeyError(f"has an unknown placeholder {{{name}}}: use {known} or {{metadata.<field>}}")
            parts.append(Placeholder(name))
        template = cls(text, tuple(parts))
        # Placeholders never bring a / or a control character of their own into these checks: a
        # template that fails them fails for every job.
        check_key(template.fill(dict.fromkeys(template.placeholders, "x")))
        return template

    @property
    def placeholders(self) -> frozenset[str]:
        return frozenset(part.name for part in self.parts if isinstance(part, Placeholder))

    def fill(self, values: Mapping[str, str]) -> str:
        """The template with the placeholders `values` has filled in; the others stay as they are."""
        return "".join(
            values.get(part.name, str(part)) if isinstance(part, Placeholder) else part for part in self.parts
        )

    def prefix(self, values: Mapping[str, str]) -> str:
        """What every key the template makes starts with, knowing only `values`: the template up to
        its first placeholder `values` has not."""
        fixed = []
        for part in self.parts:
            if isinstance(part, Placeholder):
                if part.name not in values:
                    break
                fixed.append(values[part.name])
            else:
                fixed.append(part)
        return "".join(fixed)

    def render(self, values: Mapping[str, str]) -> str:
        """The key, every placeholder filled in, checked as S3 keys are; InvalidKeyError when it is not one."""
        missing = self.placeholders - values.keys()
        if missing:
            raise InvalidKeyError(f"has no value for {', '.join(sorted('{' + name + '}' for name in missing))}")
        return check_key(self.fill(values))


def source_values(key: str) -> dict[str, str]:
    """`{source_key}`, `{source_stem}` and `{source_dir}` of a source's key (or file name)."""
    directory, _, last = key.rpartition("/")
    stem, dot, _ = last.rpartition(".")
    return {"source_key": key, "source_stem": stem if dot and stem else last, "source_dir": directory}


def metadata_values(metadata: Mapping[str, Any]) -> dict[str, str]:
    """`{metadata.<field>}` for each field of the job's metadata that can stand in a key."""
    values = {}
    for field, value in metadata.items():
        if isinstance(value, bool):
            values[f"{METADATA}{field}"] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            values[f"{METADATA}{field}"] = str(value)
    return values


def s3_uri(bucket: str, key: str = "") -> str:
    return f"s3://{bucket}/{key}"


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """("media", "products/") of `s3://media/products/`; ValueError for anything else."""
    if not uri.startswith("s3://"):
        raise ValueError(f"{uri} is not an s3://bucket/prefix address")
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    if not re.match(BUCKET_PATTERN, bucket):
        raise ValueError(f"{bucket!r} is not an S3 bucket name")
    if prefix and (_CONTROL.search(prefix) or len(prefix.encode()) > MAX_KEY_BYTES):
        raise ValueError("the prefix has a control character or is over 1024 bytes")
    return bucket, prefix
