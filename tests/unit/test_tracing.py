"""A job's trace shows where its time went: a subsegment around the decode and around each output."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from imagejobs import engine, observability
from imagejobs.deadline import Deadline
from imagejobs.spec.outputs import Output
from tests import images


class Recorder:
    def __init__(self) -> None:
        self.opened: list[str] = []

    @contextmanager
    def in_subsegment(self, name: str) -> Iterator[None]:
        self.opened.append(name)
        yield


def test_the_decode_and_each_output_are_subsegments(monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = Recorder()
    monkeypatch.setattr(observability.tracer, "provider", recorder)
    outputs = [Output.model_validate({"name": name, "format": "png"}) for name in ("small", "large")]

    engine.render(
        images.jpeg(32, 24), outputs, engine.Limits(10**6, 1024), Deadline.unlimited(), traced=observability.traced
    )

    assert recorder.opened == ["## decode", "## output small", "## output large"]
