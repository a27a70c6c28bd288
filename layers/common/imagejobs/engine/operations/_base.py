"""The registry of steps, their context, and what several steps share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyvips

from imagejobs.deadline import Deadline
from imagejobs.errors import TooManyPixelsError
from imagejobs.spec.geometry import X, Y, pixels
from imagejobs.spec.operations import Operation, rgba

type Step[Op] = Callable[[pyvips.Image, Op, Context], pyvips.Image]

# The largest side libvips can address; an image that would exceed it cannot even be planned.
VIPS_MAX_COORD = 10_000_000

COMPASS: dict[str, str] = {
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


@dataclass(frozen=True)
class Context:
    """What a step may need beyond its image and parameters; one per render."""

    load_upload: Callable[[str], bytes]  # another upload of the job's tenant, by id (watermarks)
    max_source_pixels: int  # the source limits hold for those uploads too
    max_frames: int
    max_output_dimension: int  # per side, for what a step draws (text)
    deadline: Deadline
    marks: dict[str, pyvips.Image] = field(default_factory=dict)  # decoded watermarks, by upload id


STEPS: dict[type[Any], Step[Any]] = {}


def apply(image: pyvips.Image, operation: Operation, context: Context) -> pyvips.Image:
    return STEPS[type(operation)](image, operation, context)


def step[Op](kind: type[Op]) -> Callable[[Step[Op]], Step[Op]]:
    def register(function: Step[Op]) -> Step[Op]:
        STEPS[kind] = function
        return function

    return register


def check_size(width: int, height: int, made_by: str) -> None:
    if max(width, height) > VIPS_MAX_COORD:
        raise TooManyPixelsError(f"{made_by} would make an image of {width}x{height} pixels")


def srgb(image: pyvips.Image) -> pyvips.Image:
    """The image with colour bands: a grey one (1 band, 2 with alpha) becomes sRGB."""
    return image if image.bands >= 3 else image.copy(interpretation="b-w").colourspace("srgb")


def ink(image: pyvips.Image, color: str) -> tuple[pyvips.Image, list[int]]:
    """The image (in colour; with an alpha band if the colour is translucent) and the colour as its band values."""
    image = srgb(image)
    values = list(rgba(color))
    if values[3] < 255 and not image.hasalpha():
        image = image.addalpha()
    return image, values[: image.bands]


def on_colour(image: pyvips.Image, change: Callable[[pyvips.Image], pyvips.Image]) -> pyvips.Image:
    """`change` applied to the three sRGB bands, rounded back to 8 bits; alpha is kept as it is."""
    image = srgb(image)
    changed = change(image.extract_band(0, n=3))
    if changed.format != "uchar":
        changed = changed.rint().cast("uchar")  # cast clips to 0-255
    changed = changed.copy(interpretation="srgb")
    return changed.bandjoin(image.extract_band(3, n=image.bands - 3)) if image.bands > 3 else changed


def three(band: pyvips.Image) -> pyvips.Image:
    """One band repeated as sRGB's three."""
    return band.bandjoin([band, band]).copy(interpretation="srgb")


def blurred(image: pyvips.Image, sigma: float) -> pyvips.Image:
    """A Gaussian blur; with alpha, premultiplied, so transparent pixels lend no colour to their neighbours."""
    if not image.hasalpha():
        return image.gaussblur(sigma)
    return image.premultiply().gaussblur(sigma).unpremultiply().cast(image.format)


def translucent(image: pyvips.Image, opacity: float) -> pyvips.Image:
    """The image in colour with an alpha band, made `opacity` (0-1) times as opaque."""
    image = srgb(image)
    if not image.hasalpha():
        image = image.bandjoin(255)
    return image if opacity == 1 else image.linear([1, 1, 1, opacity], [0, 0, 0, 0]).cast(image.format)


def place(
    image: pyvips.Image, layer: pyvips.Image, gravity: str, offset_x: int | str = 0, offset_y: int | str = 0
) -> tuple[int, int]:
    """Where the layer's top-left goes on the image: at `gravity` (a compass point), moved inwards by the offsets."""
    size = (image.width, image.height)
    dx, dy = pixels(offset_x, size, X), pixels(offset_y, size, Y)
    free_x, free_y = image.width - layer.width, image.height - layer.height
    x = dx if "west" in gravity else free_x - dx if "east" in gravity else free_x // 2 + dx
    y = dy if "north" in gravity else free_y - dy if "south" in gravity else free_y // 2 + dy
    return x, y


def overlay(image: pyvips.Image, layer: pyvips.Image, x: int, y: int) -> pyvips.Image:
    """`layer` (opaque where it has no alpha) over the image with its top-left at (x, y), clipped to the image.

    The result keeps the image's size and, if it had no alpha, stays opaque without one.
    """
    image = srgb(image)
    result = image.composite2(layer, "over", x=x, y=y)
    return result if image.hasalpha() else result.extract_band(0, n=3)
