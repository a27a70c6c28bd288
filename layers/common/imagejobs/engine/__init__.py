"""The image engine: bytes in, one decode, then each output's pipeline and encoding.

The order of work, in one place (`render`):

1. `source.read_header`: the real format from the bytes, the header only, checked against the
   pixel limit (width x height x animation frames, over every selected page) and the frame limit.
   Then `budget`: the job's work units (pages x outputs x output pixels) and its memory, estimated
   from the header and the outputs, checked against their limits before any pixel is decoded.
2. `source.decode`: each selected page decoded once, upright (EXIF orientation) and in 8-bit sRGB
   (ICC honoured), into memory that every output shares (libvips images are immutable; one still
   page is held only once step 3 knows that more than one rung or output reads it). When
   every output starts with a resize (`decode_size`), a JPEG or WebP is decoded shrunk: by the
   largest of 2, 4, 8 that keeps it at least as large as each output's resize scales to before
   its crop or padding (a camera RAW at half size, when that is enough); that first resize is
   then planned on the source's own size (`operations.resize_from`), so every output comes out
   the size it would from a full decode.
3. `ladder`: on a still single page, the distinct sizes the outputs' first resizes scale to are made
   once, largest first, each from the rung above or the decode (a measured cost model); the rungs
   several outputs use, or smaller rungs start from, are held in memory. When no output reads the
   decode itself any more, it is let go; when one rung alone is scaled from it, it is never held
   whole: it streams, row by row, into that rung (its failures still the decode's).
4. per output and page, on up to `threads` threads at once (`budget` lowers that to what fits in
   memory; libvips releases the GIL; its own threads are shared out among the outputs running side
   by side when none of them outweighs its share): its operations in order (`operations.apply`), frame by frame for an
   animation the output format can hold (gif, webp; other formats get the first frame), the
   time budget checked and the output dimension limit enforced between steps; then
   `encode.encode` (format, quality and size searches; metadata stripped). The first output to
   fail stops those not started; the earliest failing output's error is raised.
5. with `analysis`: `analysis.analyse` on the first decoded page (a thumbnail of it, or of the
   largest rung when the decode was let go, and the EXIF block the reader already has), after the
   outputs, so that it never delays or fails them.

Several selected pages give each output once per page, named `<output>-p<page>`.
libvips evaluates lazily: the pixel work of step 4 happens while encoding, on an image `guard`
watches so that it stops at the deadline. A library's error in a step becomes that step's stable
code where it happens (`guard.failing_as`): `corrupt_image` decoding, `too_large` in an operation
or an encoding, `timeout` once the deadline has passed.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from functools import cache

import pyvips

from imagejobs.deadline import Deadline
from imagejobs.engine import analysis as analysing
from imagejobs.engine import budget, encode, frames, guard, ladder, operations, source
from imagejobs.errors import SourceNotFoundError, TooLargeError, TooManyPixelsError
from imagejobs.spec.documents import Analysis
from imagejobs.spec.formats import FORMATS
from imagejobs.spec.geometry import output_size
from imagejobs.spec.operations import Resize
from imagejobs.spec.outputs import Output
from imagejobs.spec.requests import AnalysisRequest

__all__ = ["Limits", "Rendered", "SourceInfo", "configure_malloc", "decode_size", "render"]


@dataclass(frozen=True)
class Limits:
    max_source_pixels: int
    max_output_dimension: int
    max_frames: int = 500
    max_work_units: int = 400_000_000  # pixels encoded, all pages and outputs (`spec.geometry.work_units`)
    max_memory_bytes: int = 1536 * 2**20  # the function's memory less what the runtime and libraries take


@dataclass(frozen=True)
class SourceInfo:
    """The source as sniffed; width and height are of its first selected page, upright (not of a shrunk decode).
    `analysis` when `render` was asked for it."""

    format: str
    width: int
    height: int
    analysis: Analysis | None = None


@dataclass(frozen=True)
class Rendered:
    name: str  # the output's, or `<output>-p<page>` when several pages are selected
    format: str  # the output's, or what `auto` chose
    width: int  # of one frame
    height: int
    data: bytes
    content_type: str
    extension: str
    page: int | None = None  # the source page, when several are selected


# glibc's mallopt parameters, and the values `configure_malloc` gives them
_M_ARENA_MAX, _M_MMAP_THRESHOLD, _M_TRIM_THRESHOLD = -8, -3, -1
_MMAP_THRESHOLD = 32 * 2**20  # the ceiling of glibc's own (dynamic) threshold on 64-bit
_TRIM_THRESHOLD = 128 * 2**20
# CPU per pixel of an encoding at the default effort, relative to WebP's (bench/README.md, case t:
# an 8 MP photo at 1920, 1600 and 1280 w: AVIF 1.3-1.5x WebP's time; JPEG about a third).
_ENCODE_COST = {"avif": 1.4, "jpeg": 0.35}


def _no_uploads(upload_id: str) -> bytes:
    raise SourceNotFoundError(f"upload {upload_id} is not available here")


def render(
    data: bytes,
    outputs: Sequence[Output],
    limits: Limits,
    deadline: Deadline,
    load_upload: Callable[[str], bytes] = _no_uploads,
    *,
    pages: str | None = None,
    dpi: int | None = None,
    analysis: AnalysisRequest | None = None,
    traced: Callable[[str], AbstractContextManager[object]] = lambda _: nullcontext(),
    threads: int = 1,
) -> tuple[SourceInfo, list[Rendered]]:
    """`traced(name)` wraps each step (the decode, the ladder, each output, all outputs at once when they run on
    several threads, the analysis): the worker's trace subsegments. `threads`: at most this many outputs at once."""
    configure_malloc()
    header = source.read_header(data, limits.max_source_pixels, limits.max_frames, pages, dpi)
    budget.check_work(header, outputs, limits.max_work_units)
    at_once = budget.check_memory(header, outputs, limits.max_memory_bytes, limits.max_output_dimension, threads)
    deadline.check("decode")
    one_still = len(header.pages) == 1 and header.reader.frames == 1
    planned: list[ladder.Rung] = []
    with traced("decode"):
        # One still page is only opened, until it is known whether it must be held for several readers.
        decoded = source.decode(header, deadline, decode_size(outputs, source.upright_size(header)), not one_still)
        page = decoded[0]
        decoded_size = (page.image.width, page.image.height)
        if one_still and not frames.is_animated(page.image):
            planned = ladder.plan(outputs, (page.width, page.height), decoded_size, limits.max_output_dimension)
        # Read by one rung alone, the decode streams into it and is never held whole.
        streamed = ladder.streams(planned, decoded_size) and not _needs_decode(outputs, page, [r.size for r in planned])
        if one_still and not streamed:
            decoded = source.hold(decoded, header.format, deadline)
    context = operations.Context(
        load_upload, limits.max_source_pixels, limits.max_frames, limits.max_output_dimension, deadline
    )
    jpeg = data if header.format == "jpeg" else None
    rungs: dict[ladder.Size, pyvips.Image] = {}
    page = decoded[0]
    if planned:
        with traced("ladder"):
            streaming = source.decoding(header.format, deadline) if streamed else None
            rungs = ladder.make(frames.first(page.image), planned, deadline, streaming)
        if not _needs_decode(outputs, page, rungs):  # let the decode go: the rungs are all that is read
            largest = max(rungs.values(), key=lambda image: image.width * image.height)
            decoded = [source.Page(page.number, largest, page.width, page.height)]

    def one(output: Output, page: source.Page) -> Rendered:
        numbered = len(decoded) > 1
        return _render_output(page, output, limits, deadline, context, numbered=numbered, jpeg=jpeg, rungs=rungs)

    work = [(output, page) for output in outputs for page in decoded]
    if at_once == 1 or len(work) == 1:
        rendered: list[Rendered] = []
        for output, page in work:
            with traced(f"output {output.name}"):
                rendered.append(one(output, page))
    else:
        with traced(f"{len(work)} outputs, {at_once} at once"):
            rendered = _in_parallel(work, one, at_once, deadline)
    analysed = None
    if analysis is not None:
        with traced("analysis"):
            analysed = analysing.analyse(decoded[0].image, header.reader, header.pages[0], analysis, deadline)
    return SourceInfo(header.format, decoded[0].width, decoded[0].height, analysed), rendered


def _encode_cost(output: Output, page: source.Page) -> float:
    """An output's encoding time, relatively: its pixels times its format's cost per pixel."""
    width, height = output_size((page.width, page.height), output.operations)
    return width * height * _ENCODE_COST.get(output.format, 1.0)


def _needs_decode(outputs: Sequence[Output], page: source.Page, rungs: Collection[ladder.Size]) -> bool:
    """Whether an output reads the decoded page itself, not only a rung of it."""
    for output in outputs:
        first = output.operations[0] if output.operations else None
        if not isinstance(first, Resize) or first.fit == "blur_background":
            return True
        if operations.resize_geometry(page.width, page.height, first)[0] not in rungs:
            return True
    return False


def _in_parallel(
    work: list[tuple[Output, source.Page]],
    one: Callable[[Output, source.Page], Rendered],
    threads: int,
    deadline: Deadline,
) -> list[Rendered]:
    """`one` of each, on `threads` threads (libvips releases the GIL while it computes), in `work`'s order.

    The first failure stops what has not started yet; the failure of the earliest output (of those that
    ran) is raised, as a job error with its stable code.
    """

    def guarded(output: Output, page: source.Page) -> Rendered:
        deadline.check(f"output '{output.name}'")
        return one(output, page)

    # Longest first (the outputs' pixels times their format's encode cost), so that the threads end
    # together rather than one of them encoding the largest output last; the results keep `work`'s order.
    costs = [_encode_cost(*item) for item in work]
    longest_first = sorted(range(len(work)), key=lambda index: -costs[index])
    # libvips' threads are shared out when the outputs keep every thread busy: no output larger than
    # their share. Otherwise the largest still takes all of them once the others are done.
    shared = _libvips_threads_shared(threads) if max(costs) * threads <= sum(costs) else nullcontext()
    with shared, ThreadPoolExecutor(threads, thread_name_prefix="render") as pool:
        started = {index: pool.submit(guarded, *work[index]) for index in longest_first}
        futures = [started[index] for index in range(len(work))]
        wait(futures, return_when=FIRST_EXCEPTION)
        if any(future.done() and future.exception() for future in futures):
            for future in futures:
                future.cancel()
        wait(futures)
    for future in futures:
        if not future.cancelled() and (failure := future.exception()) is not None:
            raise failure
    return [future.result() for future in futures]


@dataclass
class _SideBySide:
    """The renders of this process whose outputs are running side by side, and libvips' concurrency before them."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    running: int = 0
    concurrency: int = 0


_side_by_side = _SideBySide()


@contextmanager
def _libvips_threads_shared(at_once: int) -> Iterator[None]:
    """libvips' threads per operation (its concurrency, one per core by default) shared out among the
    `at_once` outputs that render side by side, while they do: at least one each; restored after.

    The outputs are already the parallel work: on 2 cores, two outputs each computing and encoding on
    libvips' 2 threads (and an AVIF's on libaom's 2 threads) ran four busy threads on two cores, and the
    threads' hand-offs cost CPU. An AVIF of 1920x1080 (effort 1) alone: 183-194 ms of CPU on one thread,
    213-258 ms on two; bench case t (6 outputs of an 8 MP photo, 2 at once) ran 1.70x faster on two threads
    than on one, using 2-9 % more CPU; 1.86x once shared out, using less (bench/README.md, "Threads").
    A process rendering several jobs at once (the local stack) keeps the first one's setting until the
    last one ends.
    """
    state = _side_by_side
    with state.lock:
        if state.running == 0:
            state.concurrency = pyvips.concurrency_get()
            pyvips.concurrency_set(max(1, state.concurrency // at_once))
        state.running += 1
    try:
        yield
    finally:
        with state.lock:
            state.running -= 1
            if state.running == 0:
                pyvips.concurrency_set(state.concurrency)


@cache
def configure_malloc() -> None:
    """glibc's allocator set for rendering, once per process, from the first render on (elsewhere nothing).

    One malloc arena: glibc gives each thread that allocates a heap of its own (up to 8 per core) and
    keeps what is freed there: with libvips' workers and the outputs' threads, a warm process's peak
    RSS grew run after run (a WebP ladder of a 6 MP photo: 137, 181, 247, 282 MB over four runs; with
    one arena 132, 164, 164, 180 MB, for the same CPU time; bench/README.md, "Memory"). libvips
    allocates whole regions and images, not many small blocks, so the threads hardly wait on its lock.

    Freed memory kept for the next job, up to `_TRIM_THRESHOLD`: glibc's own thresholds gave a decode's
    and a ladder's buffers back to the kernel after every job, and the next job's first touch of each
    page cost a page fault and the kernel's zeroing of it (a 6 MP JPEG ladder: ~9,800 faults, a fifth of
    its CPU time as system time; none once kept). Blocks above `_MMAP_THRESHOLD` (a 24 MP decode) are
    still mapped and unmapped on their own, so what is kept is at most the heap a job needed.
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_ARENA_MAX, 1)
    mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
    mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)


def decode_size(outputs: Sequence[Output], size: tuple[int, int]) -> tuple[int, int] | None:
    """The smallest decode of a `size` source every output can be made from as well as from the whole: None for whole.

    That is when every output's first operation is a resize: the largest size they scale to, before
    a `cover` crops or a `contain` pads (the pixel values of every other operation are of the source).
    """
    widths, heights = [], []
    for output in outputs:
        first = output.operations[0] if output.operations else None
        if not isinstance(first, Resize):
            return None
        (width, height), _ = operations.resize_geometry(*size, first)
        widths.append(width)
        heights.append(height)
    need = (max(widths, default=size[0]), max(heights, default=size[1]))
    return need if need[0] < size[0] and need[1] < size[1] else None


def _render_output(
    page: source.Page,
    output: Output,
    limits: Limits,
    deadline: Deadline,
    context: operations.Context,
    *,
    numbered: bool,
    jpeg: bytes | None = None,
    rungs: dict[ladder.Size, pyvips.Image],
) -> Rendered:
    """`jpeg`: the source's bytes when it is a JPEG (an output without operations may recompress them).
    `rungs`: the page scaled to the sizes of the outputs' first resizes (`ladder`), by size."""
    name = f"{output.name}-p{page.number}" if numbered else output.name
    formats = encode.auto_candidates(output) if output.format == "auto" else (output.format,)
    animates = any(FORMATS[fmt].animation for fmt in formats)
    layers = frames.split(page.image) if animates and frames.is_animated(page.image) else [frames.first(page.image)]
    # Each operation's result is held to the limit, as later steps compute it; with no operations the
    # output is the source as it is.
    for index, operation in enumerate(output.operations):
        step = f"operation {index} ({operation.type})"
        frames_in_turn = _in_turn(layers, deadline, f"{name}: {step}")
        with guard.failing_as(TooLargeError, f"output '{name}': {step}", deadline):
            if index == 0 and isinstance(operation, Resize) and (page.shrunk or rungs):
                size = (page.width, page.height)
                scaled = rungs.get(operations.resize_geometry(*size, operation)[0])
                layers = [operations.resize_from(layer, operation, size, scaled) for layer in frames_in_turn]
            else:
                layers = [operations.apply(layer, operation, context) for layer in frames_in_turn]
        _check_dimensions(layers, name, step, limits)
    if not output.operations:
        _check_dimensions(layers, name, "the source", limits)
    with guard.failing_as(TooLargeError, f"output '{name}': joining its {len(layers)} frames", deadline):
        image = frames.join(layers, like=page.image) if len(layers) > 1 else layers[0]
    encoded = encode.encode(image, output, deadline, name, None if output.operations else jpeg)
    fmt = FORMATS[encoded.format]
    return Rendered(
        name=name,
        format=fmt.name,
        width=encoded.width,
        height=encoded.height,
        data=encoded.data,
        content_type=fmt.content_type,
        extension=fmt.extension,
        page=page.number if numbered else None,
    )


def _in_turn(layers: list[pyvips.Image], deadline: Deadline, step: str) -> Iterator[pyvips.Image]:
    """The frames one by one, the deadline checked before each."""
    for layer in layers:
        deadline.check(step)
        yield layer


def _check_dimensions(layers: list[pyvips.Image], name: str, made_by: str, limits: Limits) -> None:
    for image in layers:
        if max(image.width, image.height) > limits.max_output_dimension:
            raise TooManyPixelsError(
                f"output '{name}': {made_by} gives {image.width}x{image.height} pixels, "
                f"above the limit of {limits.max_output_dimension} per side"
            )
