"""One small function per operation type, registered by the operation's model."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyvips

from imagejobs.errors import TooManyPixelsError
from imagejobs.pipeline import Flip, Operation, Resize, Rotate

type Step[Op] = Callable[[pyvips.Image, Op, Context], pyvips.Image]


@dataclass(frozen=True)
class Context:
    """What a step may need beyond its image and parameters."""

    load_upload: Callable[[str], bytes]  # another upload of the job's tenant, by id (watermarks)


_STEPS: dict[type[Any], Step[Any]] = {}

# The largest side libvips can address; a resize that would exceed it cannot even be planned.
_VIPS_MAX_COORD = 10_000_000

_COMPASS = {
    "centre": "centre",
    "north": "north",
    "northeast": "north-east",
    "east": "east",
    "southeast": "south-east",
    "south": "south",
    "southwest": "south-west",
    "west": "west",
    "northwest": "north-west",
}


def apply(image: pyvips.Image, operation: Operation, context: Context) -> pyvips.Image:
    return _STEPS[type(operation)](image, operation, context)


def _step[Op](kind: type[Op]) -> Callable[[Step[Op]], Step[Op]]:
    def register(step: Step[Op]) -> Step[Op]:
        _STEPS[kind] = step
        return step

    return register


def resize_geometry(width: int, height: int, op: Resize) -> tuple[tuple[int, int], tuple[int, int]]:
    """(the size to scale a widthxheight image to, the size of the result) for a resize, as sharp does.

    One side given: the other follows the aspect ratio. Both given: `fill` stretches to them,
    `inside` fits within them, `contain` fits within them and pads to exactly them, `cover`
    fills them and crops the overflow. `without_enlargement` caps each scale at 1, so a small
    source is never scaled up: `cover` then crops to at most the target, `contain` still pads
    to exactly the target.
    """
    hscale = op.width / width if op.width else math.inf
    vscale = op.height / height if op.height else math.inf
    fit = op.fit if op.width and op.height else "inside"
    if fit == "cover":
        hscale = vscale = max(hscale, vscale)
    elif fit in ("contain", "inside"):
        hscale = vscale = min(hscale, vscale)
    if op.without_enlargement:
        hscale, vscale = min(hscale, 1.0), min(vscale, 1.0)
    scaled = (max(1, int(width * hscale + 0.5)), max(1, int(height * vscale + 0.5)))
    target = (op.width or scaled[0], op.height or scaled[1])
    if fit == "cover":
        return scaled, (min(scaled[0], target[0]), min(scaled[1], target[1]))
    if fit == "contain":
        return scaled, target
    return scaled, scaled


@_step(Resize)
def resize(image: pyvips.Image, op: Resize, _: Context) -> pyvips.Image:
    (width, height), (box_width, box_height) = resize_geometry(image.width, image.height, op)
    if max(width, height) > _VIPS_MAX_COORD:
        raise TooManyPixelsError(f"resize would make an image of {width}x{height} pixels")
    if (width, height) != (image.width, image.height):
        # thumbnail_image: lanczos3 with premultiplied alpha, to exactly this size
        image = image.thumbnail_image(width, height=height, size="force")
    if (box_width, box_height) == (width, height):
        return image
    if box_width <= width and box_height <= height:
        return image.gravity(_COMPASS[op.position], box_width, box_height)  # crop
    image, background = _with_background(image, op.background)
    return image.gravity(_COMPASS[op.position], box_width, box_height, extend="background", background=background)


@_step(Rotate)
def rotate(image: pyvips.Image, op: Rotate, _: Context) -> pyvips.Image:
    """Clockwise; multiples of 90° move pixels losslessly, other angles fill the corners."""
    angle = op.angle % 360
    if angle % 90 == 0:
        return image.rot(f"d{int(angle)}")
    image, background = _with_background(image, op.background)
    return image.rotate(angle, background=background)


@_step(Flip)
def flip(image: pyvips.Image, op: Flip, _: Context) -> pyvips.Image:
    if op.direction in ("horizontal", "both"):
        image = image.fliphor()
    if op.direction in ("vertical", "both"):
        image = image.flipver()
    return image


def _with_background(image: pyvips.Image, colour: str) -> tuple[pyvips.Image, list[int]]:
    """The image (with an alpha band if the colour is translucent) and the colour as its band values."""
    rgba = [int(colour[i : i + 2], 16) for i in range(1, len(colour), 2)]
    if len(rgba) == 4 and rgba[3] < 255 and not image.hasalpha():
        image = image.addalpha()
    if len(rgba) == 3:
        rgba.append(255)
    return image, rgba[: image.bands]
