"""Steps that change colours, never alpha: adjust, filter, tint, auto_enhance."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from itertools import accumulate

import pyvips

from imagejobs.engine.operations._base import Context, on_colour, step, three
from imagejobs.spec.operations import Adjust, AutoEnhance, Filter, FilterName, Tint, rgba

_SEPIA = [[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]]
_EMBOSS = pyvips.Image.new_from_array([[-1, -1, 0], [-1, 0, 1], [0, 1, 1]], offset=128)  # relief lit from top-left
_SMOOTH = pyvips.Image.new_from_array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], scale=16)  # a binomial 3x3 mean
_MEAN_REMOVAL = pyvips.Image.new_from_array([[-1, -1, -1], [-1, 9, -1], [-1, -1, -1]])  # itself minus its neighbours
# blur_selective: edges are found on a denoised copy (sigma 1.5); below _EDGE_FLOOR (on sobel's 0-255) a pixel
# is blurred, from _EDGE_FLOOR + 255 / _EDGE_GAIN up it is kept, and between the two are blended.
_EDGE_FLOOR, _EDGE_GAIN = 16, 4
_LEVELS = (1, 99)  # auto_enhance maps these percentiles of lightness to black and white


@step(Adjust)
def adjust(image: pyvips.Image, op: Adjust, _: Context) -> pyvips.Image:
    if (op.brightness, op.contrast, op.saturation, op.hue, op.gamma) == (1, 1, 1, 0, 1):
        return image

    def adjusted(rgb: pyvips.Image) -> pyvips.Image:
        if (op.brightness, op.saturation, op.hue) != (1, 1, 0):
            lch = rgb.colourspace("lch")
            rgb = (lch * [op.brightness, op.saturation, 1] + [0, 0, op.hue]).colourspace("srgb")
        if (op.gamma, op.contrast) == (1, 1):
            return rgb
        # both map each 8-bit value on its own: one lookup table of 256 entries (gamma first, it needs 0-255)
        levels = ((pyvips.Image.identity() / 255) ** (1 / op.gamma) * 255 - 128) * op.contrast + 128
        return rgb.maplut(levels)

    return on_colour(image, adjusted)


def _grey(rgb: pyvips.Image) -> pyvips.Image:
    return rgb.colourspace("b-w")


def _vintage(rgb: pyvips.Image) -> pyvips.Image:
    """Half toned to sepia, faded towards a warm grey."""
    return (rgb * 0.4 + rgb.recomb(_SEPIA) * 0.6) * 0.85 + [30, 20, 5]


def _blur_selective(rgb: pyvips.Image) -> pyvips.Image:
    """A blur where the image is flat, none on its edges, and a blend between (by the edges' strength)."""
    edges = ((_grey(rgb).gaussblur(1.5).sobel() - _EDGE_FLOOR) * _EDGE_GAIN).cast("uchar")  # 255 on an edge, 0 flat
    return edges.ifthenelse(rgb, rgb.gaussblur(2), blend=True)


_FILTERS: dict[FilterName, Callable[[pyvips.Image], pyvips.Image]] = {
    "grayscale": lambda rgb: three(_grey(rgb)),
    "sepia": lambda rgb: rgb.recomb(_SEPIA),
    "negate": lambda rgb: rgb.invert(),
    "emboss": lambda rgb: three(_grey(rgb).conv(_EMBOSS, precision="integer")),
    "edge_detect": lambda rgb: three(_grey(rgb).sobel()),
    "vintage": _vintage,
    "posterize": lambda rgb: (rgb / 64).floor() * 85,  # 4 levels a channel
    "solarize": lambda rgb: (rgb > 127).ifthenelse(rgb.invert(), rgb),
    "warm": lambda rgb: rgb * [1.1, 1.0, 0.85],
    "cool": lambda rgb: rgb * [0.85, 1.0, 1.1],
    "black_white": lambda rgb: three(_grey(rgb) > 127),  # a comparison gives 0 or 255
    "smooth": lambda rgb: rgb.conv(_SMOOTH, precision="integer"),
    "mean_removal": lambda rgb: rgb.conv(_MEAN_REMOVAL, precision="integer"),
    "blur_selective": _blur_selective,
}


@step(Filter)
def filter_(image: pyvips.Image, op: Filter, _: Context) -> pyvips.Image:
    return on_colour(image, _FILTERS[op.name])


@step(Tint)
def tint(image: pyvips.Image, op: Tint, _: Context) -> pyvips.Image:
    """Each pixel's grey level times the colour (white becomes the colour); its alpha mixes in the original."""
    red, green, blue, strength = rgba(op.color)

    def tinted(rgb: pyvips.Image) -> pyvips.Image:
        toned = _grey(rgb) * [red / 255, green / 255, blue / 255]
        return toned if strength == 255 else rgb + (toned - rgb) * (strength / 255)

    return on_colour(image, tinted)


@step(AutoEnhance)
def auto_enhance(image: pyvips.Image, _op: AutoEnhance, _: Context) -> pyvips.Image:
    """Stretches lightness (CIELAB L) between two percentiles to the full range; hue and chroma are kept."""

    def stretched(rgb: pyvips.Image) -> pyvips.Image:
        lab = rgb.colourspace("lab")
        # one pass over the pixels: a histogram of L (0-100, as 0-255), then its percentiles
        cumulative = list(accumulate((lab[0] * 2.55).cast("uchar").hist_find().tolist()[0]))
        low, high = (bisect_left(cumulative, cumulative[-1] * share / 100) / 2.55 for share in _LEVELS)
        if high - low < 1:
            return rgb  # flat: nothing to stretch
        scale = 100 / (high - low)
        return lab.linear([scale, 1, 1], [-low * scale, 0, 0]).colourspace("srgb")

    return on_colour(image, stretched)
