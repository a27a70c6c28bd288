"""Properties of crop geometry, on real images of random sizes, with pixels and percentages."""

from __future__ import annotations

from typing import get_args

from hypothesis import given, settings
from hypothesis import strategies as st

from imagejobs.spec.operations import SmartGravity
from tests import images

sides = st.integers(min_value=1, max_value=48)
percentages = st.integers(min_value=0, max_value=30_000).map(lambda hundredths: f"{hundredths / 100}%")
lengths = st.integers(min_value=1, max_value=80) | percentages.filter(lambda share: float(share[:-1]) > 0)
insets = st.integers(min_value=0, max_value=80) | percentages


def whole(value: int | str, side: int) -> int:
    """A pixel value in pixels: a percentage of `side`, rounded half to even as Python's round does."""
    return round(side * float(value[:-1]) / 100) if isinstance(value, str) else value


def cropped(source: tuple[int, int], **params: object) -> tuple[int, int]:
    result = images.size(images.applied(images.png(*source), {"type": "crop", **params}))
    assert result[0] >= 1 and result[1] >= 1
    return result


@settings(max_examples=80, deadline=None)
@given(sw=sides, sh=sides, w=lengths, h=lengths, x=insets, y=insets)
def test_a_crop_at_x_and_y_is_the_region_cut_to_the_image(
    sw: int, sh: int, w: int | str, h: int | str, x: int | str, y: int | str
) -> None:
    left, top = min(whole(x, sw), sw - 1), min(whole(y, sh), sh - 1)
    expected = (min(max(1, whole(w, sw)), sw - left), min(max(1, whole(h, sh)), sh - top))

    assert cropped((sw, sh), x=x, y=y, width=w, height=h) == expected


@settings(max_examples=80, deadline=None)
@given(sw=sides, sh=sides, w=lengths, h=lengths, gravity=st.sampled_from(get_args(SmartGravity)) | st.none())
def test_a_crop_at_a_gravity_is_the_size_asked_for_within_the_image(
    sw: int, sh: int, w: int | str, h: int | str, gravity: str | None
) -> None:
    expected = (min(max(1, whole(w, sw)), sw), min(max(1, whole(h, sh)), sh))

    assert cropped((sw, sh), width=w, height=h, gravity=gravity) == expected


@settings(max_examples=40, deadline=None)
@given(sw=sides, sh=sides, share=st.integers(min_value=1, max_value=100))
def test_a_percentage_crop_is_that_share_of_each_side(sw: int, sh: int, share: int) -> None:
    width, height = cropped((sw, sh), width=f"{share}%", height=f"{share}%")

    assert abs(width - sw * share / 100) <= 1 and abs(height - sh * share / 100) <= 1
