"""Every input bounded, every failure named: hostile inputs inside the documented limits end within
seconds with their stable code, on real pixels; what the limits count is checked on its own."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import pyvips

from imagejobs import engine
from imagejobs.deadline import Deadline
from imagejobs.engine import Limits, Rendered, SourceInfo, guard
from imagejobs.engine.readers import svg
from imagejobs.errors import (
    CorruptImageError,
    DeadlineExceededError,
    JobError,
    TooLargeError,
    TooManyPixelsError,
)
from imagejobs.spec.geometry import MIN_RENDER_PIXELS, output_size, selected_pages, work_units
from imagejobs.spec.outputs import Output
from tests import images
from tests.images import BLUE, RED, WHITE, near, pixel, size

LIMITS = Limits(max_source_pixels=100_000_000, max_output_dimension=16384)


def output(fmt: str = "png", *operations: dict[str, Any], name: str = "out", **options: Any) -> Output:
    return Output.model_validate({"name": name, "format": fmt, "operations": list(operations), **options})


def render(
    data: bytes,
    *outputs: Output,
    limits: Limits = LIMITS,
    deadline: Deadline | None = None,
    pages: str | None = None,
    dpi: int | None = None,
) -> tuple[SourceInfo, list[Rendered]]:
    return engine.render(data, outputs or (output(),), limits, deadline or Deadline.unlimited(), pages=pages, dpi=dpi)


def seconds(budget: float) -> Deadline:
    """A time budget of `budget` seconds from now, with no reserve."""
    ends = time.monotonic() + budget
    return Deadline(lambda: int((ends - time.monotonic()) * 1000), reserve_ms=0)


@contextmanager
def ends_within(limit: float, error: type[JobError], match: str = "") -> Iterator[None]:
    started = time.monotonic()
    with pytest.raises(error, match=match):
        yield
    assert time.monotonic() - started < limit


# ---- SVG ----------------------------------------------------------------------------------------


def test_an_svg_nested_past_librsvgs_depth_is_too_large_at_once_without_recursion() -> None:
    with ends_within(3, TooLargeError, "nests elements more than 256 deep"):
        render(images.nested_svg(100_000))

    _, [result] = render(images.nested_svg(250))
    assert near(pixel(result.data, 5, 5), (*RED, 255))


def test_an_svg_of_too_many_elements_stops_being_read_at_the_limit() -> None:
    body = '<rect width="1" height="1"/>' * (svg.MAX_ELEMENTS + 1)

    with ends_within(3, TooLargeError, f"more than {svg.MAX_ELEMENTS} elements"):
        render(images.svg(body))


def test_an_svg_over_the_byte_limit_is_too_large() -> None:
    comment = f"<!-- {'x' * svg.MAX_BYTES} -->"

    with ends_within(3, TooLargeError, "bytes"):
        render(images.svg(comment))


def test_a_billion_laughs_made_of_use_references_is_counted_as_drawn() -> None:
    # GIVEN a few dozen elements that draw 10**6 squares by <use> of <use>
    with ends_within(3, TooLargeError, "counting each one a reference"):
        render(images.use_bomb_svg(levels=6))

    # THEN a hundred squares drawn the same way are fine
    _, [result] = render(images.use_bomb_svg(levels=2))
    assert near(pixel(result.data, 0, 0), (*RED, 255))


def test_references_that_loop_are_counted_once_and_drawn_without_hanging() -> None:
    body = '<g id="a"><use href="#b"/><rect width="10" height="10" fill="blue"/></g><g id="b"><use href="#a"/></g>'

    started = time.monotonic()
    _, [result] = render(images.svg(body, 10, 10))

    assert near(pixel(result.data, 5, 5), (*BLUE, 255))
    assert time.monotonic() - started < 5


def test_an_embedded_raster_counts_against_the_pixel_limit_before_it_is_decoded() -> None:
    # GIVEN a 40x20 SVG embedding a PNG whose header says 20000x20000 (400 MP, under 100 bytes)
    bomb = images.svg_embedding(images.png_claiming(20_000, 20_000))

    with ends_within(3, TooManyPixelsError, "embeds images of 400000000 pixels"):
        render(bomb)


def test_an_embedded_raster_within_the_limit_is_drawn_and_an_unreadable_one_removed() -> None:
    drawn = images.svg_embedding(images.png(4, 4, RED))
    broken = images.svg('<rect width="20" height="20" fill="blue"/><image href="data:image/png;base64,iVBORw0K"/>')

    _, [result] = render(drawn)
    assert near(pixel(result.data, 10, 10), (*RED, 255), tolerance=30)
    assert svg.sanitise(drawn).embedded_pixels == 16
    assert b"iVBORw0K" not in svg.sanitise(broken).data
    _, [result] = render(broken)
    assert near(pixel(result.data, 10, 10), (*BLUE, 255))


def test_css_may_point_only_at_fragments_not_at_embedded_images() -> None:
    body = '<rect width="10" height="10" style="fill: url(data:image/png;base64,AAAA)"/>'

    assert b"data:image" not in svg.sanitise(images.svg(body)).data


def test_an_svg_that_takes_librsvg_too_long_is_stopped_at_the_deadline() -> None:
    # GIVEN one path of 3000 crossing lines (about 10 s for librsvg) and a 1.5 s budget
    slow = images.crossing_path_svg(3000)

    # THEN the child drawing it is stopped, and the job ends with `timeout`
    with ends_within(5, DeadlineExceededError, "drawing the svg"):
        render(slow, deadline=seconds(1.5))


def test_an_svg_that_takes_librsvg_too_long_to_measure_is_too_large(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the crossing path in an SVG with no width, height or viewBox: librsvg measures the drawing
    unsized = images.crossing_path_svg(3000).replace(b' width="1000" height="1000"', b"", 1)
    monkeypatch.setattr(svg, "READ_SECONDS", 1)

    with ends_within(5, TooLargeError, "reading the svg takes longer than 1 s"):
        render(unsized)


# ---- text -----------------------------------------------------------------------------------------


def text(words: str, size: int) -> dict[str, Any]:
    return {"type": "text", "text": words, "size": size}


def test_a_long_text_at_a_large_size_is_refused_before_it_is_drawn() -> None:
    # GIVEN 996 characters at 1000 px wrapped at 4000 px: about 125 lines, 145,000 px tall
    with ends_within(3, TooManyPixelsError, "text: 996 characters at size 1000"):
        render(images.png(4000, 10), output("png", text("Hello world " * 83, 1000)))


def test_a_text_wider_than_its_estimate_is_measured_once_drawn() -> None:
    # GIVEN 'W's, wider than the average character the estimate takes: 8 lines estimated, 15 drawn
    limits = Limits(max_source_pixels=100_000_000, max_output_dimension=1000)

    with ends_within(3, TooManyPixelsError, r"drawn \d+x\d+ pixels, above the limit of 1000"):
        render(images.png(1000, 1000), output("png", text("W" * 150, 100)), limits=limits)

    # THEN a text that fits is drawn
    fits = {**text("W" * 50, 100), "color": "#000000"}
    _, [result] = render(images.png(1000, 1000, WHITE), output("png", fits), limits=limits)
    left, top, right, bottom = images.changed_box(result.data, WHITE) or (0, 0, 0, 0)
    assert right - left > 900 and 400 < bottom - top < 1000  # five lines of ten Ws, centred


# ---- work units and memory -------------------------------------------------------------------------


def test_many_pages_times_many_outputs_is_too_large_before_a_page_is_drawn(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a 50-page PDF and 4 outputs of 1500x1500 each: 450 M pixels to encode
    document = images.pdf(*[(72, 72, RED)] * 50)
    outputs = [output("webp", {"type": "resize", "width": 1500, "height": 1500}, name=f"o{i}") for i in range(4)]
    drawn: list[int] = []
    monkeypatch.setattr(engine.source, "decode", lambda *args: drawn.append(1))

    with ends_within(3, TooLargeError, "450000000 pixels .4 outputs on 50 pages., above the limit of 400000000"):
        render(document, *outputs, pages="1-")
    assert not drawn


def test_more_outputs_than_a_job_may_make_is_too_large_before_a_page_is_drawn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a 200-page PDF and 10 small outputs of each page: 2000 outputs
    document = images.pdf(*[(72, 72, RED)] * 200)
    outputs = [output("png", {"type": "resize", "width": 8}, name=f"o{i}") for i in range(10)]
    drawn: list[int] = []
    monkeypatch.setattr(engine.source, "decode", lambda *args: drawn.append(1))

    with ends_within(3, TooLargeError, "2000 outputs .10 outputs on 200 pages., above the limit of 200"):
        render(document, *outputs, pages="1-")
    assert not drawn


def test_the_work_units_limit_counts_the_frames_an_animation_keeps() -> None:
    # GIVEN 3 frames of 40x20 and a limit between one 400x400 frame's work and three frames'
    animation = images.animated("GIF", 40, 20, (RED, BLUE, WHITE), (100, 100, 100))
    big = output("webp", {"type": "resize", "width": 400, "height": 400, "fit": "fill"})
    limits = Limits(max_source_pixels=100_000_000, max_output_dimension=16384, max_work_units=300_000)

    with pytest.raises(TooLargeError, match="480000 pixels"):
        render(animation, big, limits=limits)
    _, [result] = render(animation, output("png", {"type": "resize", "width": 400}), limits=limits)
    assert size(result.data) == (400, 200)  # a still output keeps the first frame only


def test_a_tiny_file_whose_header_needs_more_memory_than_there_is_is_refused_before_decoding() -> None:
    # GIVEN a 91-byte PNG claiming 9000x9000 (81 MP, within the pixel limit) and 256 MiB for the job
    limits = Limits(max_source_pixels=100_000_000, max_output_dimension=16384, max_memory_bytes=256 * 2**20)

    with ends_within(3, TooManyPixelsError, "decoding the source needs about 486 MB, above the 268 MB"):
        render(images.png_claiming(9000, 9000), limits=limits)


def test_an_output_that_needs_more_memory_than_there_is_is_too_large() -> None:
    limits = Limits(max_source_pixels=100_000_000, max_output_dimension=16384, max_memory_bytes=256 * 2**20)
    huge = output("avif", {"type": "resize", "width": 10000, "height": 10000, "fit": "fill"}, name="huge")

    with ends_within(3, TooLargeError, "output 'huge' needs about 800 MB"):
        render(images.png(10, 10), huge, limits=limits)


def test_output_sizes_are_planned_from_the_operations() -> None:
    resize = {"type": "resize", "width": 100, "height": 50}
    ops = [
        Output.model_validate({"name": "o", "format": "png", "operations": [operation]}).operations[0]
        for operation in (
            resize,
            {"type": "crop", "width": 80, "height": 80, "x": 40, "y": 0},
            {"type": "pad", "left": "10%", "right": 2, "top": 1},
            {"type": "rotate", "angle": 90},
        )
    ]

    assert output_size((400, 400), ops[:1]) == (100, 50)
    assert output_size((400, 400), ops[:2]) == (60, 50)  # cut to the image from x = 40
    assert output_size((400, 400), ops[:3]) == (68, 51)
    assert output_size((400, 400), ops) == (51, 68)
    assert output_size(None, ops) == (51, 68)  # a resize to a box fixes the size whatever the source
    assert output_size(None, ops[1:]) is None


def test_work_units_without_a_source_are_the_least_the_request_needs() -> None:
    fixed = output("webp", {"type": "resize", "width": 1000, "height": 1000, "fit": "contain"})
    follows = output("png", {"type": "resize", "width": 1000})  # the height follows the source

    assert work_units([fixed, follows], [None] * 3) == 3 * (1000 * 1000 + MIN_RENDER_PIXELS)
    assert work_units([follows], [(2000, 1000)]) == 1000 * 500
    assert work_units([output("gif")], [(10, 10)], frames=50) == MIN_RENDER_PIXELS  # small renders cost the least


@pytest.mark.parametrize(("pages", "count"), [(None, 1), ("2", 1), ("1-3,5", 4), ("1-3,2-4", 4), ("1,8-", None)])
def test_the_pages_a_selection_counts_are_known_unless_a_range_is_open(pages: str | None, count: int | None) -> None:
    assert selected_pages(pages) == count


# ---- deadline and errors ------------------------------------------------------------------------


def test_a_long_libvips_computation_is_stopped_at_the_deadline() -> None:
    # GIVEN a 3000x3000 image blurred 8 times with sigma 50 (some 10 s) and a 1 s budget
    blur = output("png", *[{"type": "blur", "sigma": 50}] * 8)

    with ends_within(5, DeadlineExceededError, "ran out of time"):
        render(images.png(3000, 3000), blur, deadline=seconds(1))


def test_a_library_error_becomes_the_steps_code() -> None:
    failing = guard.failing_as(TooLargeError, "output 'x': operation 0 (crop)", Deadline.unlimited())

    with pytest.raises(TooLargeError, match=r"output 'x': operation 0 \(crop\): extract_area"), failing:
        pyvips.Image.black(10, 10).crop(20, 20, 5, 5)


def test_a_library_error_past_the_deadline_is_a_timeout_and_out_of_memory_its_own_code() -> None:
    late = guard.failing_as(CorruptImageError, "decoding", Deadline(lambda: 0))
    with pytest.raises(DeadlineExceededError, match="ran out of time: decoding"), late:
        pyvips.Image.black(10, 10).crop(20, 20, 5, 5)

    short = guard.failing_as(CorruptImageError, "decoding", Deadline.unlimited(), out_of_memory=TooManyPixelsError)
    with pytest.raises(TooManyPixelsError, match="decoding: out of memory"), short:
        raise MemoryError
