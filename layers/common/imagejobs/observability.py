"""The one Logger, Tracer and Metrics of the service; every module imports them from here."""

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()


def traced(name: str) -> AbstractContextManager[Any]:
    """An X-Ray subsegment around a step of a job (decode, each output, each write); nothing where
    tracing is off (outside Lambda, in the local stack, in the engine's command)."""
    return tracer.provider.in_subsegment(f"## {name}")


@contextmanager
def logging_keys(**keys: str) -> Iterator[None]:
    """Every log line written meanwhile, in this thread, carries these keys (a job's and tenant's ids)."""
    logger.thread_safe_append_keys(**keys)
    try:
        yield
    finally:
        logger.thread_safe_remove_keys(list(keys))
