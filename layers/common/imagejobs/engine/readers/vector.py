"""Vector sources (SVG, PDF) drawn in a child process, which the job's deadline can stop (and SVGs read in one).

librsvg and MuPDF draw what a document describes, and that takes time in proportion to its
content rather than to its pixels: librsvg fills one path of a few thousand crossing segments in
seconds, and the time grows with the square of their number. Neither can be interrupted from
Python, so the pages are drawn by a child, `python -P <this file> <request>`, which imports no more
than pyvips and the codec it needs. It reads the document on stdin and, for each page, writes a
line of JSON (`{"width", "height", "bands"}`) then the page's pixels, 8-bit sRGB, row by row; or
a line `{"error": message, "code": code}` and stops; asked to measure, it writes the line alone.
When the deadline comes first, the child is killed and the job fails with `timeout`; a child that
dies otherwise fails it with `corrupt_image`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from io import BufferedReader, BufferedWriter
from typing import Any, cast

import pyvips

from imagejobs.deadline import Deadline
from imagejobs.errors import CorruptImageError, DeadlineExceededError, JobError, TooLargeError, TooManyPixelsError

_POINTS_PER_INCH = 72
_CODES: dict[str, type[JobError]] = {"corrupt_image": CorruptImageError, "too_many_pixels": TooManyPixelsError}


def draw(kind: str, data: bytes, request: dict[str, Any], deadline: Deadline) -> Iterator[pyvips.Image]:
    """The pages `request` asks of the `kind` ("svg" or "pdf") document `data`, drawn by a child in turn.

    The child runs while the pages are taken: it is killed at the deadline, and when they are not all taken.
    """
    deadline.check(f"draw the {kind}")
    with subprocess.Popen(  # noqa: S603 - this interpreter running this file, with a request it made
        _command(kind, request), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=_env()
    ) as child:
        stdin, stdout = cast(BufferedWriter, child.stdin), cast(BufferedReader, child.stdout)  # pipes, as asked
        expired = threading.Event()

        def stop() -> None:
            expired.set()
            child.kill()

        timer = threading.Timer(deadline.seconds_left(), stop)
        timer.start()
        try:
            try:
                stdin.write(data)
                stdin.close()
            except BrokenPipeError:
                pass  # the child ended early: its answer, or its end, says why
            while line := stdout.readline():
                yield _page(kind, line, stdout, expired)
            if expired.is_set():
                raise DeadlineExceededError(f"ran out of time drawing the {kind}")
            if child.wait() != 0:
                raise CorruptImageError(f"the {kind} could not be drawn: its renderer stopped ({child.returncode})")
        finally:
            timer.cancel()
            child.kill()


def measure(kind: str, data: bytes, request: dict[str, Any], seconds: float) -> tuple[int, int, int]:
    """(width, height, bands) of the `kind` document `data` as a child reads them, within `seconds`.

    Reading is bounded on its own, before the job's budget is known: librsvg measures the drawing of
    an SVG without a size of its own, and applies its style sheets to every element.
    """
    try:
        done = subprocess.run(  # noqa: S603 - this interpreter running this file, with a request it made
            _command(kind, {**request, "measure": True}),
            input=data,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=_env(),
            timeout=seconds,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise TooLargeError(f"reading the {kind} takes longer than {seconds:g} s") from error
    answer = _answer(done.stdout.partition(b"\n")[0])
    if done.returncode != 0 or not answer:
        raise CorruptImageError(f"the {kind} cannot be read: its reader stopped ({done.returncode})")
    return answer["width"], answer["height"], answer["bands"]


def _command(kind: str, request: dict[str, Any]) -> list[str]:
    """This file run by this interpreter, without its folder on the path (it holds a `codecs` module)."""
    return [sys.executable, "-P", __file__, json.dumps({"kind": kind, **request})]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, sys.path))}


def _answer(line: bytes) -> dict[str, Any]:
    """The child's line about a page, {} if it is not one; its error raised with its code."""
    answer: dict[str, Any] = json.loads(line) if line.startswith(b"{") else {}
    if "error" in answer:
        raise _CODES[answer["code"]](answer["error"])
    return answer


def _page(kind: str, line: bytes, stdout: BufferedReader, expired: threading.Event) -> pyvips.Image:
    """The page whose line the child wrote, and the pixels that follow it."""
    answer = _answer(line)
    width, height, bands = answer.get("width", 0), answer.get("height", 0), answer.get("bands", 0)
    pixels = bytearray(width * height * bands)
    view, read = memoryview(pixels), 0
    while read < len(pixels) and (count := stdout.readinto(view[read:])):
        read += count
    if expired.is_set():
        raise DeadlineExceededError(f"ran out of time drawing the {kind}")
    if not answer or read < len(pixels):
        raise CorruptImageError(f"the {kind} could not be drawn: its renderer stopped")
    return pyvips.Image.new_from_memory(pixels, width, height, bands, "uchar").copy(interpretation="srgb")


# ---- the child ------------------------------------------------------------------------------------

type Drawn = tuple[int, int, int, Any]  # width, height, bands, the pixels (bytes, a memoryview; None: measured)


def _svg(data: bytes, request: dict[str, Any]) -> Iterator[Drawn]:
    try:
        image = pyvips.Image.svgload_buffer(data, dpi=request["dpi"], fail_on="error")
        if request.get("measure"):
            yield image.width, image.height, image.bands, None
            return
        image = image.colourspace("srgb") if image.interpretation != "srgb" else image
        image = image if image.format == "uchar" else image.cast("uchar")
        yield image.width, image.height, image.bands, image.write_to_memory()
    except pyvips.Error as error:
        why = ((error.detail or error.message).strip().splitlines() or ["librsvg failed"])[0]
        raise _DrawingError("corrupt_image", f"the svg cannot be drawn: {why}") from error


def _pdf(data: bytes, request: dict[str, Any]) -> Iterator[Drawn]:
    import pymupdf  # noqa: PLC0415 - only a PDF's child loads MuPDF

    zoom = request["dpi"] / _POINTS_PER_INCH
    errors = (RuntimeError, pymupdf.mupdf.FzErrorBase)  # pymupdf's own and MuPDF's
    try:
        document = pymupdf.open(stream=data, filetype="pdf")
    except errors as error:
        raise _DrawingError("corrupt_image", "the pdf cannot be read") from error
    for index in request["pages"]:
        try:
            pixmap = document.load_page(index).get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), alpha=False)
        except errors as error:
            raise _DrawingError("corrupt_image", f"page {index + 1} of the pdf cannot be rendered") from error
        yield pixmap.width, pixmap.height, pixmap.n, pixmap.samples_mv


_DRAWERS = {"svg": _svg, "pdf": _pdf}


class _DrawingError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def _child() -> int:
    request = json.loads(sys.argv[1])
    data, out = sys.stdin.buffer.read(), sys.stdout.buffer
    try:
        for width, height, bands, pixels in _DRAWERS[request["kind"]](data, request):
            out.write(json.dumps({"width": width, "height": height, "bands": bands}).encode() + b"\n")
            if pixels is not None:
                out.write(pixels)
            out.flush()
    except _DrawingError as refusal:
        out.write(json.dumps({"error": refusal.message, "code": refusal.code}).encode() + b"\n")
        return 1
    except MemoryError:
        message = f"the {request['kind']} is too large to draw in the memory there is"
        out.write(json.dumps({"error": message, "code": "too_many_pixels"}).encode() + b"\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_child())
