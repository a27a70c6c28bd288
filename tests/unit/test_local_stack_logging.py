"""The local stack runs every function in one process: each log line must still name the function
that wrote it, as CloudWatch's log group per function would."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.functions import Function
from imagejobs.observability import logger

HANDLER = """
from imagejobs.observability import logger


@logger.inject_lambda_context
def handler(event, context):
    logger.info("started")
    event["started"].set()
    event["proceed"].wait(10)
    logger.info("finished")
"""


class Collected(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[dict[str, object]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def collected() -> Iterator[Collected]:
    """The shared Powertools logger's lines, formatted as it formats them."""
    handler = Collected()
    handler.setFormatter(logger.registered_formatter)
    logging.getLogger(logger.name).addHandler(handler)
    yield handler
    logging.getLogger(logger.name).removeHandler(handler)


def function(tmp_path: Path, name: str) -> Function:
    code = tmp_path / name
    code.mkdir()
    (code / "app.py").write_text(HANDLER)
    return Function(name, {"CodeUri": str(code), "Handler": "app.handler", "MemorySize": 256, "Timeout": 30})


def test_lines_name_their_function_while_another_runs_beside_it(tmp_path: Path, collected: Collected) -> None:
    # GIVEN two functions, the second starting while the first is still running
    first, second = function(tmp_path, "FirstFunction"), function(tmp_path, "SecondFunction")
    events = {f.logical_id: {"started": threading.Event(), "proceed": threading.Event()} for f in (first, second)}
    threads = [threading.Thread(target=f.invoke, args=(events[f.logical_id],)) for f in (first, second)]
    threads[0].start()
    assert events["FirstFunction"]["started"].wait(10)
    threads[1].start()
    assert events["SecondFunction"]["started"].wait(10)
    # WHEN the first writes its last line after the second's invocation began
    events["FirstFunction"]["proceed"].set()
    threads[0].join(10)
    events["SecondFunction"]["proceed"].set()
    threads[1].join(10)
    # THEN every line names the function that wrote it, with that invocation's context
    assert [(line["message"], line["function_name"]) for line in collected.lines] == [
        ("started", "FirstFunction"),
        ("started", "SecondFunction"),
        ("finished", "FirstFunction"),
        ("finished", "SecondFunction"),
    ]
    assert [line["cold_start"] for line in collected.lines] == [True, True, True, True]  # each its own instance
    request_ids = {line["function_name"]: set() for line in collected.lines}
    for line in collected.lines:
        request_ids[line["function_name"]].add(line["function_request_id"])
    assert all(len(ids) == 1 for ids in request_ids.values())
    assert request_ids["FirstFunction"] != request_ids["SecondFunction"]


def test_a_warm_function_logs_no_cold_start(tmp_path: Path, collected: Collected) -> None:
    only = function(tmp_path, "OnlyFunction")
    for _ in range(2):
        gate = {"started": threading.Event(), "proceed": threading.Event()}
        gate["proceed"].set()
        only.invoke(gate)
    assert [line["cold_start"] for line in collected.lines] == [True, True, False, False]
