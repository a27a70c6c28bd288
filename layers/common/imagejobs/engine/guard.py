"""What keeps a step inside the job's time and turns a library's failure into a stable code where it happens.

- `watched`: libvips computes pixels lazily, when an image is written (decoded into memory,
  encoded, measured); on a watched image that computation stops, between tiles, once the deadline
  has passed, so that a long blur or a huge encode fails with `timeout` before Lambda ends it.
- `failing_as`: inside it, what libvips (`pyvips.Error`), Python (`MemoryError`, `RecursionError`)
  and the codec libraries given raise becomes the job error of the step (`corrupt_image` on
  decoding, `too_large` for an operation or an encoding; running out of memory is `too_large`, or
  `too_many_pixels` for the source), or `timeout` when the deadline passed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pyvips

from imagejobs.deadline import Deadline
from imagejobs.errors import DeadlineExceededError, JobError, TooLargeError

LIBRARY_ERRORS: tuple[type[BaseException], ...] = (pyvips.Error, MemoryError, RecursionError)


def watched(image: pyvips.Image, deadline: Deadline) -> pyvips.Image:
    """A copy of `image` whose evaluation, and that of every image made from it, stops at the deadline.

    Keep the copy referenced while it is evaluated: its handler lives as long as it does.
    """
    image = image.copy()
    image.set_progress(True)

    def on_eval(evaluated: pyvips.Image, _progress: object) -> None:
        if deadline.expired():
            evaluated.set_kill(True)

    image.signal_connect("eval", on_eval)
    return image


@contextmanager
def failing_as(
    error: type[JobError],
    message: str,
    deadline: Deadline,
    *,
    also: tuple[type[BaseException], ...] = (),
    out_of_memory: type[JobError] = TooLargeError,
) -> Iterator[None]:
    """Library errors (`LIBRARY_ERRORS` and `also`) raised inside as `error`; `message` says what was being done.

    Past the deadline they are `timeout` (a watched computation was stopped); running out of memory is
    `out_of_memory`.
    """
    try:
        yield
    except (*LIBRARY_ERRORS, *also) as failure:
        if deadline.expired():
            raise DeadlineExceededError(f"ran out of time: {message}") from failure
        why = reason(failure)
        raise (out_of_memory if why == "out of memory" else error)(f"{message}: {why}") from failure


def reason(failure: BaseException) -> str:
    """A library's message, short: its first line (libvips adds the failing operations' own below)."""
    text = failure.detail if isinstance(failure, pyvips.Error) and failure.detail else str(failure)
    if isinstance(failure, MemoryError) or "out of memory" in text:
        return "out of memory"
    if isinstance(failure, RecursionError):
        return "nested too deeply"
    return next((line.strip() for line in text.splitlines() if line.strip()), type(failure).__name__)
