"""The time budget of one invocation, checked between pipeline steps."""

from __future__ import annotations

from collections.abc import Callable

from imagejobs.errors import DeadlineExceededError


class Deadline:
    """Fails with `timeout` while there is still time to record the failure.

    `remaining_ms` is the Lambda context's `get_remaining_time_in_millis`; `reserve_ms` is what
    storing the result and publishing the event need after the last step.
    """

    def __init__(self, remaining_ms: Callable[[], int], reserve_ms: int = 5000) -> None:
        self._remaining_ms = remaining_ms
        self._reserve_ms = reserve_ms

    def check(self, step: str) -> None:
        if self.expired():
            raise DeadlineExceededError(f"ran out of time before step '{step}'")

    def expired(self) -> bool:
        return self.seconds_left() < 0

    def seconds_left(self) -> float:
        """The time the steps have left, in seconds: up to the reserve, below 0 once it is passed."""
        return (self._remaining_ms() - self._reserve_ms) / 1000

    @classmethod
    def unlimited(cls) -> Deadline:
        return cls(lambda: 2**31, reserve_ms=0)
