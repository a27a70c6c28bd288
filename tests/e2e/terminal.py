"""A shell in a terminal, as a user has one: text pasted into it as a terminal pastes it (bracketed
paste, once the shell's line editor asks for it: zsh's ZLE and bash's readline read the whole paste
as one buffer, and parse it before running any of it), then `exit` typed."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

BRACKETED_PASTE_ON = b"\x1b[?2004h"
# What a shell says when a paste did not parse or run as written.
PROBLEMS = re.compile(
    r"command not found|parse error|syntax error|no matches found|bad pattern|bad substitution|"
    r"unmatched|unexpected EOF|(quote|dquote|bquote|cmdsubst)> "
)
_ESCAPES = re.compile(rb"\x1b(\[[0-9;?]*[ -/]*[@-~]|\][^\x07]*\x07|[()][0-9A-Za-z]|[=>78])")


@dataclass(frozen=True)
class Session:
    status: int  # the shell's exit status: that of the last command pasted
    output: str  # what the terminal showed, without its escape sequences

    @property
    def lines(self) -> list[str]:
        return [line.strip() for line in self.output.replace("\r", "\n").split("\n")]

    @property
    def problems(self) -> list[str]:
        return [line for line in self.lines if PROBLEMS.search(line)]


def paste(argv: Sequence[str], text: str, cwd: Path, env: Mapping[str, str], timeout: float) -> Session:
    """Starts the shell in a new terminal, pastes `text` and Enter, types `exit`, and waits for it to end."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the shell, in the terminal
        os.chdir(cwd)
        os.execvpe(argv[0], list(argv), dict(env))
    shown = bytearray()
    deadline = time.monotonic() + timeout
    try:
        bracketed = _read_until(fd, shown, lambda: BRACKETED_PASTE_ON in shown, time.monotonic() + 10)
        data = text.encode()
        _write(fd, (b"\x1b[200~" + data + b"\x1b[201~" if bracketed else data) + b"\r" + b"exit\r", shown)
        if not _read_until(fd, shown, lambda: False, deadline):
            raise TimeoutError(f"the shell did not finish; it showed:\n{shown.decode(errors='replace')[-3000:]}")
        _, status = os.waitpid(pid, 0)
        pid = 0
    finally:
        if pid:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)
    return Session(os.waitstatus_to_exitcode(status), _ESCAPES.sub(b"", bytes(shown)).decode(errors="replace"))


def _write(fd: int, data: bytes, shown: bytearray) -> None:
    """Writes to the terminal a little at a time, reading what it shows meanwhile (a terminal whose
    output is not read stops its shell, which then stops reading its input)."""
    while data:
        readable, writable, _ = select.select([fd], [fd], [], 5)
        if readable:
            shown += os.read(fd, 65536)
        if writable:
            written = os.write(fd, data[:512])
            data = data[written:]


def _read_until(fd: int, shown: bytearray, done: Callable[[], bool], deadline: float) -> bool:
    """Reads what the terminal shows until `done()` or the shell ends (True), or the deadline (False)."""
    while not done():
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        readable, _, _ = select.select([fd], [], [], min(left, 1))
        if readable:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the shell ended and closed the terminal
                return True
            if not chunk:
                return True
            shown += chunk
    return True
