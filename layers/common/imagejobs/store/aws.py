"""AWS clients, created on first use (never at import time) and then reused by the invocation.

boto3 and botocore are imported here, on the first client: importing them costs a cold start about
200 ms of CPU, which a function pays only when it calls AWS (bench/coldstart.py)."""

from __future__ import annotations

from functools import cache
from typing import Any

from imagejobs.observability import instrument


@cache
def _config() -> Any:
    from botocore.config import Config  # noqa: PLC0415 - on first use: see the docstring

    return Config(retries={"mode": "standard", "max_attempts": 4}, signature_version="s3v4")


def preload() -> None:
    """What the first client imports (boto3, botocore, the X-Ray patch), without making one: for a
    snapshot (imagejobs.snapstart), which must hold no credentials and no connection."""
    import boto3  # noqa: F401, PLC0415 - on first use: see the docstring

    instrument()
    _config()


@cache
def client(service: str) -> Any:
    import boto3  # noqa: PLC0415 - on first use

    instrument()
    return boto3.client(service, config=_config())


@cache
def table(name: str) -> Any:
    import boto3  # noqa: PLC0415 - on first use

    instrument()
    return boto3.resource("dynamodb", config=_config()).Table(name)
