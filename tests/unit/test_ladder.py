"""Many outputs from one photo: the ladder (each rung scaled from the rung above or the decode) and
outputs rendered on several threads.

On a real photograph (samples/photo.jpg, 1600x1067): every rung the engine makes is compared with
the same rung scaled straight from a whole decode of the photo, and must be within 0.5 % of it in
SSIM. The PNG outputs compare the rungs' own pixels; the lossy ones compare what a viewer gets.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pyvips

from imagejobs import engine
from imagejobs.deadline import Deadline
from imagejobs.engine import Limits, Rendered, budget, ladder, source
from imagejobs.errors import CorruptImageError, DeadlineExceededError, TargetSizeUnreachableError
from imagejobs.settings import Settings
from imagejobs.spec.outputs import Output
from tests.images import size, ssim

PHOTO = (Path(__file__).resolve().parents[2] / "samples" / "photo.jpg").read_bytes()
LIMITS = Limits(max_source_pixels=100_000_000, max_output_dimension=16384)
WIDTHS = (1200, 800, 600, 400, 200)
WITHIN = 0.995  # 0.5 % of SSIM


def rungs(fmt: str, *, widths: tuple[int, ...] = WIDTHS, **params: Any) -> list[Output]:
    return [
        Output.model_validate(
            {"name": f"w{width}", "format": fmt, **params, "operations": [{"type": "resize", "width": width}]}
        )
        for width in widths
    ]


def whole_decode_rung(data: bytes, width: int, height: int) -> bytes:
    """The rung as made from the whole photo: decoded at full size, scaled once (lanczos3), as PNG."""
    image = pyvips.Image.new_from_buffer(data, "").autorot().colourspace("srgb")
    return image.thumbnail_image(width, height=height, size="force").pngsave_buffer()


class Ladders:
    """The rungs `ladder.make` was given, render by render."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.planned: list[list[ladder.Rung]] = []
        make = ladder.make
        monkeypatch.setattr(
            ladder, "make", lambda image, planned, *args: self._kept(make(image, planned, *args), planned)
        )

    def _kept(
        self, made: dict[ladder.Size, pyvips.Image], planned: list[ladder.Rung]
    ) -> dict[ladder.Size, pyvips.Image]:
        self.planned.append(list(planned))
        return made


def render(data: bytes, outputs: list[Output], threads: int = 1) -> list[Rendered]:
    return engine.render(data, outputs, LIMITS, Deadline.unlimited(), threads=threads)[1]


@pytest.mark.parametrize("fmt", ["jpeg", "webp"])
def test_every_rung_of_a_ladder_is_within_half_a_percent_ssim_of_the_rung_from_a_whole_decode(
    monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    # GIVEN the real photo as a JPEG, and as a WebP (shrink-on-load works differently for each)
    data = PHOTO if fmt == "jpeg" else pyvips.Image.new_from_buffer(PHOTO, "").webpsave_buffer(Q=95)
    ladders = Ladders(monkeypatch)
    # WHEN a five-rung PNG ladder is rendered, and a four-rung one whose largest rung allows a decode at 1/2
    full = render(data, rungs("png"))
    shrunk = render(data, rungs("png", widths=WIDTHS[1:]))
    # THEN the rungs were made in a cascade (not each from the decode)
    assert all(any(rung.source is not None for rung in planned) for planned in ladders.planned)
    for made in (*full, *shrunk):
        reference = whole_decode_rung(data, made.width, made.height)
        assert size(made.data) == size(reference)
        assert ssim(made.data, reference) >= WITHIN, made.name


@pytest.mark.parametrize("fmt", ["jpeg", "webp"])
def test_a_lossy_ladder_looks_as_good_as_each_rung_scaled_from_a_whole_decode(
    monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    # GIVEN the lossy ladder as the engine makes it
    made = render(PHOTO, rungs(fmt, quality=80))
    # WHEN each rung is instead scaled from a whole decode, on its own (no shrink-on-load, no ladder)
    with monkeypatch.context() as plain:
        plain.setattr(engine, "decode_size", lambda *_: None)
        plain.setattr(ladder, "plan", lambda *_: [])
        alone = render(PHOTO, rungs(fmt, quality=80))
    # THEN against the rung's own pixels, the ladder's encoding scores within 0.5 % of the plain one
    for ours, plain_rung in zip(made, alone, strict=True):
        reference = whole_decode_rung(PHOTO, ours.width, ours.height)
        assert (ours.width, ours.height) == (plain_rung.width, plain_rung.height)
        assert ssim(ours.data, reference) >= ssim(plain_rung.data, reference) * WITHIN, ours.name


@pytest.mark.parametrize("fmt", ["jpeg", "webp"])
def test_a_decode_that_one_rung_alone_reads_streams_into_it_and_is_never_held_whole(
    monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    # GIVEN the photo as a JPEG and as a WebP, and a count of decodes held in memory
    data = PHOTO if fmt == "jpeg" else pyvips.Image.new_from_buffer(PHOTO, "").webpsave_buffer(Q=95)
    held: list[int] = []
    hold = source.hold
    monkeypatch.setattr(source, "hold", lambda pages, *args: held.append(len(pages)) or hold(pages, *args))
    # WHEN a ladder is rendered whose largest rung alone is scaled from the decode
    streamed = render(data, rungs(fmt, quality=80))
    # THEN the decode was never held whole, and the rungs are those of a held decode
    assert held == []
    with monkeypatch.context() as holding:
        holding.setattr(ladder, "streams", lambda *_: False)
        assert [r.data for r in render(data, rungs(fmt, quality=80))] == [r.data for r in streamed]
    # AND once an output reads the decode itself, it is held
    held.clear()
    render(data, [*rungs(fmt, quality=80), Output.model_validate({"name": "copy", "format": "png"})])
    assert held == [1]


def test_a_truncated_photo_streamed_into_its_ladder_is_still_a_corrupt_image() -> None:
    # its header reads, its pixels fail half way: while the largest rung is scaled from them
    with pytest.raises(CorruptImageError, match="decoding the jpeg"):
        render(PHOTO[: len(PHOTO) // 2], rungs("jpeg"))


def test_outputs_sharing_a_size_are_scaled_once_and_kept_for_each() -> None:
    outputs = [*rungs("webp", widths=(800,)), *rungs("jpeg", widths=(800,)), *rungs("png", widths=(400,))]
    planned = ladder.plan(outputs, (1600, 1067), (1600, 1067), 16384)
    assert [(rung.size, rung.users, rung.kept) for rung in planned] == [((800, 534), 2, True), ((400, 267), 1, False)]
    assert planned[1].source == (800, 534)  # kept anyway: the smaller rung starts from it


def test_enlargements_and_sizes_over_the_limit_are_left_to_their_outputs() -> None:
    outputs = rungs("png", widths=(3200, 1200, 800))
    planned = ladder.plan(outputs, (1600, 1067), (1600, 1067), 1000)
    assert [rung.size for rung in planned] == [(800, 534)]


def test_a_ladder_rendered_on_threads_gives_the_same_bytes_as_on_one() -> None:
    outputs = [*rungs("webp", quality=80), *rungs("jpeg", widths=(1000, 500), quality=85)]
    assert [(r.name, r.data) for r in render(PHOTO, outputs, threads=3)] == [
        (r.name, r.data) for r in render(PHOTO, outputs, threads=1)
    ]


def test_outputs_render_on_several_threads_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: set[str] = set()
    encode = engine.encode.encode

    def noting(*args: Any, **kwargs: Any) -> engine.encode.Encoded:
        seen.add(threading.current_thread().name)
        return encode(*args, **kwargs)

    monkeypatch.setattr(engine.encode, "encode", noting)
    render(PHOTO, rungs("webp", quality=80), threads=2)
    assert len(seen) == 2


class ConcurrencySeen:
    """libvips' threads per operation as each output's encoding began."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.values: list[int] = []
        encode = engine.encode.encode

        def noting(*args: Any, **kwargs: Any) -> engine.encode.Encoded:
            self.values.append(pyvips.concurrency_get())
            return encode(*args, **kwargs)

        monkeypatch.setattr(engine.encode, "encode", noting)


@pytest.fixture
def libvips_threads() -> Iterator[Callable[[int], None]]:
    """Sets libvips' threads per operation (its concurrency) for a test; restored after it."""
    before = pyvips.concurrency_get()
    yield pyvips.concurrency_set
    pyvips.concurrency_set(before)


def test_outputs_side_by_side_share_libvips_threads_out_and_encode_as_each_would_alone(
    monkeypatch: pytest.MonkeyPatch, libvips_threads: Callable[[int], None]
) -> None:
    # GIVEN libvips on 2 threads per operation (a 2-core machine's default), and AVIF rungs close in size,
    # whose bytes depend on the threads libaom encodes on
    libvips_threads(2)
    outputs = rungs("avif", widths=(1000, 900, 800, 700))
    seen = ConcurrencySeen(monkeypatch)
    # WHEN they render two at a time
    side_by_side = render(PHOTO, outputs, threads=2)
    # THEN each encoded on libvips' share of one thread, and libvips has its 2 again after
    assert seen.values == [1, 1, 1, 1]
    assert pyvips.concurrency_get() == 2
    # AND each is the bytes of the same output rendered alone on one libvips thread
    libvips_threads(1)
    assert [r.data for r in side_by_side] == [r.data for r in render(PHOTO, outputs, threads=1)]


def test_an_output_larger_than_its_share_of_the_threads_keeps_all_of_libvips_threads(
    monkeypatch: pytest.MonkeyPatch, libvips_threads: Callable[[int], None]
) -> None:
    # GIVEN a large AVIF and a thumbnail: the thumbnail's thread is idle long before the AVIF is done
    libvips_threads(2)
    outputs = [*rungs("avif", widths=(1400,)), *rungs("webp", widths=(200,))]
    seen = ConcurrencySeen(monkeypatch)
    render(PHOTO, outputs, threads=2)
    assert seen.values == [2, 2]


def test_libvips_threads_stay_shared_out_until_the_last_render_side_by_side_ends(
    libvips_threads: Callable[[int], None],
) -> None:
    libvips_threads(4)
    with engine._libvips_threads_shared(2):
        assert pyvips.concurrency_get() == 2
        with engine._libvips_threads_shared(4):  # another job's outputs, in the same process
            assert pyvips.concurrency_get() == 2
        assert pyvips.concurrency_get() == 2
    assert pyvips.concurrency_get() == 4


def test_a_failing_output_on_a_thread_fails_the_job_with_its_code() -> None:
    outputs = [
        *rungs("webp", widths=(800, 400)),
        Output.model_validate({"name": "tiny", "format": "jpeg", "max_bytes": 100}),
    ]
    with pytest.raises(TargetSizeUnreachableError, match="tiny"):
        render(PHOTO, outputs, threads=2)


def test_threaded_outputs_stop_at_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a deadline that passes as soon as the first output starts encoding
    passed = threading.Event()
    deadline = Deadline(lambda: -1 if passed.is_set() else 60_000, reserve_ms=0)
    encode = engine.encode.encode

    def late(*args: Any, **kwargs: Any) -> engine.encode.Encoded:
        passed.set()
        return encode(*args, **kwargs)

    monkeypatch.setattr(engine.encode, "encode", late)
    # THEN the job fails as `timeout`, whichever thread noticed
    with pytest.raises(DeadlineExceededError):
        engine.render(PHOTO, rungs("webp"), LIMITS, deadline, threads=2)


def test_fewer_outputs_run_at_once_when_their_memory_would_not_fit() -> None:
    header = source.read_header(PHOTO, LIMITS.max_source_pixels, LIMITS.max_frames)
    outputs = rungs("webp", widths=(1500, 1400, 1300, 1200))  # each held twice, 4 bands: ~10-14 MB
    at_once = [budget.check_memory(header, outputs, mb * 2**20, 16384, threads=4) for mb in (512, 40, 24)]
    # the decode (5 MB) and the largest outputs first: 12 + 10.5 + 9 MB fit in 40 MB, one of them in 24
    assert at_once == [4, 3, 1]


@pytest.mark.parametrize(("memory_mb", "vcpus"), [(512, 1), (2048, 1), (3008, 2), (3538, 2), (7076, 4), (10240, 6)])
def test_a_job_renders_on_a_thread_per_vcpu_its_memory_buys_and_no_more_than_the_cores(
    monkeypatch: pytest.MonkeyPatch, memory_mb: int, vcpus: int
) -> None:
    monkeypatch.setattr(os, "process_cpu_count", lambda: 4)
    settings = Settings.model_construct(function_memory_mb=memory_mb)
    assert settings.render_threads == min(vcpus, 4)
