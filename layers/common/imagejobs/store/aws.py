"""AWS clients, created on first use (never at import time) and then reused by the invocation."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, signature_version="s3v4")


@cache
def client(service: str) -> Any:
    return boto3.client(service, config=_CONFIG)


@cache
def table(name: str) -> Any:
    return boto3.resource("dynamodb", config=_CONFIG).Table(name)
