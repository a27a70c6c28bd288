"""The one Logger, Tracer and Metrics of the service; every module imports them from here."""

from collections.abc import Iterator, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager, contextmanager
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.tracing.base import BaseProvider


@cache
def _xray() -> Any:
    """The X-Ray SDK's recorder, sending each subsegment as it ends (what Powertools sets for its own)."""
    from aws_xray_sdk import core  # noqa: PLC0415 - see _LazyXRay

    core.xray_recorder.configure(streaming_threshold=0)
    return core


class _LazyXRay(BaseProvider):
    """The X-Ray SDK as Powertools' Tracer uses it, imported on first use (a traced invocation) rather
    than at init: Powertools imports it when a Tracer is made, 50-140 ms of a cold start's CPU
    (bench/coldstart.py), before the function knows whether it will trace anything."""

    def in_subsegment(self, name: str | None = None, **kwargs: Any) -> Any:
        return _xray().xray_recorder.in_subsegment(name=name, **kwargs)

    def in_subsegment_async(self, name: str | None = None, **kwargs: Any) -> AbstractAsyncContextManager[Any]:
        return _xray().xray_recorder.in_subsegment_async(name=name, **kwargs)

    def put_annotation(self, key: str, value: Any) -> None:
        _xray().xray_recorder.put_annotation(key=key, value=value)

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        _xray().xray_recorder.put_metadata(key=key, value=value, namespace=namespace)

    def patch(self, modules: Sequence[str]) -> None:
        _xray().patch(modules)

    def patch_all(self) -> None:
        _xray().patch_all()


logger = Logger()
# Nothing patched at import: Powertools' default patches every library the X-Ray SDK knows, which
# imports botocore (and sqlite3, …) at init whether or not the function calls AWS. `instrument` patches
# what the service uses when the first AWS client is made (imagejobs.store.aws).
tracer = Tracer(auto_patch=False, provider=_LazyXRay())
metrics = Metrics()


def traced(name: str) -> AbstractContextManager[Any]:
    """An X-Ray subsegment around a step of a job (decode, each output, each write); nothing where
    tracing is off (outside Lambda, in the local stack, in the engine's command)."""
    return tracer.provider.in_subsegment(f"## {name}")


@cache
def instrument() -> None:
    """Traces AWS calls (botocore) and outgoing HTTP (http.client: callbacks, URL sources), once; a
    no-op where tracing is off. Called before the first AWS client is made: every function that sends
    HTTP reads or writes AWS first (a callback's job, a URL source's job)."""
    tracer.patch(["botocore", "httplib"])


@contextmanager
def logging_keys(**keys: str) -> Iterator[None]:
    """Every log line written meanwhile, in this thread, carries these keys (a job's and tenant's ids)."""
    logger.thread_safe_append_keys(**keys)
    try:
        yield
    finally:
        logger.thread_safe_remove_keys(list(keys))
