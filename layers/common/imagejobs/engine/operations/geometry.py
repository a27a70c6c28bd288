"""Steps that change the canvas: resize, crop, rotate, flip, pad, trim."""

from __future__ import annotations

import pyvips

from imagejobs.engine.operations._base import (
    COMPASS,
    Context,
    X,
    Y,
    blurred,
    check_size,
    ink,
    overlay,
    place,
    srgb,
    step,
)
from imagejobs.spec.geometry import length, pixels, resize_geometry
from imagejobs.spec.operations import Crop, Flip, Pad, Resize, Rotate, SmartGravity, Trim, Zoom, rgba

_BACKDROP_SHRINK = 16  # blur_background blurs a copy this many times smaller, then scales it up: fast at any size
_BACKDROP_SIGMA = 2.0


@step(Resize)
def resize(image: pyvips.Image, op: Resize, _: Context) -> pyvips.Image:
    return resize_from(image, op, (image.width, image.height))


def resize_from(
    image: pyvips.Image, op: Resize, size: tuple[int, int], scaled: pyvips.Image | None = None
) -> pyvips.Image:
    """The resize as planned for an image of `size`, of which `image` may be a copy shrunk on load.

    The result is the same size as from the full-size image; only the scaling starts nearer to it.
    `scaled`: `image` already scaled to the size the resize scales to (a rung of `engine.ladder`).
    """
    (width, height), box = resize_geometry(*size, op)
    check_size(width, height, "resize")
    source = image
    if scaled is not None:
        image = scaled
    elif (width, height) != (image.width, image.height):
        # thumbnail_image: lanczos3 with premultiplied alpha, to exactly this size
        image = image.thumbnail_image(width, height=height, size="force")
    if box == (width, height):
        return image
    if box[0] <= width and box[1] <= height:
        return _cut(image, box, op.position)
    if op.fit == "blur_background":
        return _over_blurred_copy(source, image, box, op.position)
    image, background = ink(image, op.background)
    return image.gravity(COMPASS[_placing(op.position)], *box, extend="background", background=background)


def _placing(position: SmartGravity) -> str:
    """Where to place an image: the smart positions only choose what a crop keeps, and place at the centre."""
    return position if position in COMPASS else "centre"


def _cut(image: pyvips.Image, box: tuple[int, int], gravity: SmartGravity) -> pyvips.Image:
    """The box-sized part of the image at a compass point, or its most interesting part."""
    if gravity in {"entropy", "attention"}:
        return image.smartcrop(*box, interesting=gravity)
    return image.gravity(COMPASS[gravity], *box)


def _over_blurred_copy(
    source: pyvips.Image, image: pyvips.Image, box: tuple[int, int], position: SmartGravity
) -> pyvips.Image:
    """`image` placed in the box, over a blurred copy of `source` covering the box."""
    small = (max(1, box[0] // _BACKDROP_SHRINK), max(1, box[1] // _BACKDROP_SHRINK))
    backdrop = blurred(source.thumbnail_image(small[0], height=small[1], crop="centre"), _BACKDROP_SIGMA)
    backdrop = backdrop.thumbnail_image(box[0], height=box[1], size="force")
    return overlay(backdrop, image, *place(backdrop, image, _placing(position)))


@step(Crop)
def crop(image: pyvips.Image, op: Crop, _: Context) -> pyvips.Image:
    """The region at x, y or at the gravity, cut to the image (so at least 1x1 pixels)."""
    size = (image.width, image.height)
    width = min(length(op.width, size, X), image.width)
    height = min(length(op.height, size, Y), image.height)
    if op.x is None or op.y is None:
        return _cut(image, (width, height), op.gravity or "centre")
    x = min(pixels(op.x, size, X), image.width - 1)
    y = min(pixels(op.y, size, Y), image.height - 1)
    return image.crop(x, y, min(width, image.width - x), min(height, image.height - y))


@step(Rotate)
def rotate(image: pyvips.Image, op: Rotate, _: Context) -> pyvips.Image:
    """Clockwise; multiples of 90° move pixels losslessly, other angles fill the corners."""
    angle = op.angle % 360
    if angle % 90 == 0:
        return image.rot(f"d{int(angle)}")
    image, background = ink(image, op.background)
    return image.rotate(angle, background=background)


@step(Flip)
def flip(image: pyvips.Image, op: Flip, _: Context) -> pyvips.Image:
    if op.direction in ("horizontal", "both"):
        image = image.fliphor()
    if op.direction in ("vertical", "both"):
        image = image.flipver()
    return image


@step(Pad)
def pad(image: pyvips.Image, op: Pad, _: Context) -> pyvips.Image:
    size = (image.width, image.height)
    top, bottom = pixels(op.top, size, Y), pixels(op.bottom, size, Y)
    left, right = pixels(op.left, size, X), pixels(op.right, size, X)
    width, height = image.width + left + right, image.height + top + bottom
    check_size(width, height, "pad")
    image, background = ink(image, op.background)
    return image.embed(left, top, width, height, extend="background", background=background)


@step(Zoom)
def zoom(image: pyvips.Image, op: Zoom, _: Context) -> pyvips.Image:
    """The part at the gravity, 1 + level / 10 times smaller each way, scaled back up to the image's size."""
    if op.level == 0:
        return image
    factor = 1 + op.level / 10
    part = image.gravity(COMPASS[op.gravity], max(1, round(image.width / factor)), max(1, round(image.height / factor)))
    return part.thumbnail_image(image.width, height=image.height, size="force")


@step(Trim)
def trim(image: pyvips.Image, op: Trim, _: Context) -> pyvips.Image:
    """Cuts away the border of pixels within `threshold` of the background; a flat image is kept whole."""
    probe = srgb(image)
    background = list(rgba(op.background)[:3]) if op.background else probe.getpoint(0, 0)[:3]
    left, top, width, height = probe.find_trim(threshold=op.threshold, background=background)
    if not width or not height:
        return image
    return image.crop(left, top, width, height)
