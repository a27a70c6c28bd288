"""Animations as libvips holds them: the frames stacked top to bottom, `page-height` tall each.

Operations work on one frame at a time (`split`, then `join`), so that a resize or a rotation
applies to every frame rather than to the strip.
"""

from __future__ import annotations

import pyvips

_TIMING = ("delay", "loop")
_FIELDS = ("page-height", "n-pages", *_TIMING)  # what makes an image an animation, or says it was one


def frame_height(image: pyvips.Image) -> int:
    return image.get("page-height") if image.get_typeof("page-height") else image.height


def is_animated(image: pyvips.Image) -> bool:
    return frame_height(image) < image.height


def split(image: pyvips.Image) -> list[pyvips.Image]:
    height = frame_height(image)
    return [image.crop(0, top, image.width, height) for top in range(0, image.height, height)]


def first(image: pyvips.Image) -> pyvips.Image:
    """The first frame, as a still image (the image itself when it has none of an animation's fields)."""
    if not any(image.get_typeof(field) for field in _FIELDS):
        return image
    still = image.crop(0, 0, image.width, frame_height(image)).copy()
    for field in _FIELDS:
        still.remove(field)
    return still


def join(frames: list[pyvips.Image], like: pyvips.Image) -> pyvips.Image:
    """The frames as one animation with `like`'s timing; frames of another size than the first are centred on it."""
    width, height = frames[0].width, frames[0].height
    frames = [
        frame if (frame.width, frame.height) == (width, height) else frame.gravity("centre", width, height)
        for frame in frames
    ]
    animation = pyvips.Image.arrayjoin(frames, across=1).copy()
    animation.set_type(pyvips.GValue.gint_type, "page-height", height)
    for field in _TIMING:
        if kind := like.get_typeof(field):
            animation.set_type(kind, field, like.get(field))
    return animation
