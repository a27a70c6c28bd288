"""Answers without a poll loop: a read that waits, up to a client's `wait` seconds, for what it reads
to end (a job, a batch), checking the table with growing pauses (a quarter second, then up to one)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

MAX_WAIT_SECONDS = 20  # API Gateway ends a request at 29 s; the function's own timeout is 25 s
_PAUSES = (0.25, 0.25, 0.5, 0.5, 1.0)


def wait_for[Read](read: Callable[[], Read], ended: Callable[[Read], bool], seconds: float) -> Read:
    """`read()` again and again until `ended` says so or `seconds` have passed; the last read."""
    until = time.monotonic() + min(seconds, MAX_WAIT_SECONDS)
    found = read()
    for pause in _pauses():
        left = until - time.monotonic()
        if ended(found) or left <= 0:
            return found
        time.sleep(min(pause, left))
        found = read()
    raise AssertionError("unreachable: the pauses never end")


def _pauses() -> Iterator[float]:
    yield from _PAUSES
    while True:
        yield _PAUSES[-1]
