"""GET /v1/health: the service's version and whether what it depends on answers."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

from botocore.exceptions import BotoCoreError, ClientError

from imagejobs import __version__
from imagejobs.settings import get_settings
from imagejobs.spec.model import Model
from imagejobs.store.aws import client


class Dependency(Model):
    status: Literal["ok", "failing"]
    milliseconds: int
    error: str | None = None


class Health(Model):
    status: Literal["ok", "degraded"]
    version: str
    dependencies: dict[str, Dependency]


def _probe(call: Callable[[], object]) -> Dependency:
    started = time.monotonic()
    try:
        call()
    except (BotoCoreError, ClientError) as error:
        elapsed = int((time.monotonic() - started) * 1000)
        return Dependency(status="failing", milliseconds=elapsed, error=type(error).__name__)
    return Dependency(status="ok", milliseconds=int((time.monotonic() - started) * 1000))


def check() -> Health:
    settings = get_settings()
    dependencies = {
        "table": _probe(lambda: client("dynamodb").describe_table(TableName=settings.table_name)),
        "bucket": _probe(lambda: client("s3").head_bucket(Bucket=settings.bucket_name)),
    }
    ok = all(dependency.status == "ok" for dependency in dependencies.values())
    return Health(status="ok" if ok else "degraded", version=__version__, dependencies=dependencies)
