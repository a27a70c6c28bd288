"""Properties of resize geometry, checked on real images of random sizes."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from imagejobs import engine
from imagejobs.deadline import Deadline
from imagejobs.engine import Limits
from imagejobs.spec.outputs import Output
from tests import images

LIMITS = Limits(max_source_pixels=100_000_000, max_output_dimension=16384)

sides = st.integers(min_value=1, max_value=64)
targets = st.integers(min_value=1, max_value=96)


def resized(source_width: int, source_height: int, /, **params: Any) -> tuple[int, int]:
    out = Output.model_validate({"name": "out", "format": "png", "operations": [{"type": "resize", **params}]})
    _, [result] = engine.render(images.png(source_width, source_height), [out], LIMITS, Deadline.unlimited())
    assert (result.width, result.height) == images.size(result.data)
    return result.width, result.height


def keeps_aspect(source: tuple[int, int], result: tuple[int, int]) -> bool:
    """Equal aspect ratios, up to the rounding of the derived side to whole pixels (at least 1)."""
    (sw, sh), (rw, rh) = source, result
    return abs(rw * sh - rh * sw) <= max(sw, sh)


@settings(max_examples=60, deadline=None)
@given(sw=sides, sh=sides, w=targets, h=targets, fit=st.sampled_from(["cover", "contain", "fill"]))
def test_cover_contain_and_fill_give_exactly_the_target(sw: int, sh: int, w: int, h: int, fit: str) -> None:
    assert resized(sw, sh, width=w, height=h, fit=fit) == (w, h)


@settings(max_examples=60, deadline=None)
@given(sw=sides, sh=sides, w=targets, h=targets)
def test_inside_touches_the_box_from_within_and_keeps_the_aspect_ratio(sw: int, sh: int, w: int, h: int) -> None:
    rw, rh = resized(sw, sh, width=w, height=h, fit="inside")

    assert rw <= w and rh <= h
    assert rw == w or rh == h
    assert keeps_aspect((sw, sh), (rw, rh))


@settings(max_examples=60, deadline=None)
@given(sw=sides, sh=sides, side=targets, given_side=st.sampled_from(["width", "height"]))
def test_one_side_sets_it_and_the_other_follows_the_aspect_ratio(sw: int, sh: int, side: int, given_side: str) -> None:
    rw, rh = resized(sw, sh, **{given_side: side})

    assert (rw if given_side == "width" else rh) == side
    assert keeps_aspect((sw, sh), (rw, rh))


@settings(max_examples=60, deadline=None)
@given(sw=sides, sh=sides, w=targets, h=targets, fit=st.sampled_from(["cover", "inside", "fill"]))
def test_without_enlargement_stays_within_both_source_and_target(sw: int, sh: int, w: int, h: int, fit: str) -> None:
    rw, rh = resized(sw, sh, width=w, height=h, fit=fit, without_enlargement=True)

    assert rw <= min(sw, w) and rh <= min(sh, h)
