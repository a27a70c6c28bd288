"""SSIM, computed with libvips on the luminance at most `SIDE` pixels a side (Wang et al., 2004)."""

from __future__ import annotations

import math

import pyvips

SIDE = 1024
_SIGMA = 1.5  # the Gaussian window of the reference implementation
_C1 = (0.01 * 255) ** 2
_C2 = (0.03 * 255) ** 2


def ssim(reference: pyvips.Image, candidate: pyvips.Image) -> float:
    """1.0 for identical images; both are flattened onto white, so transparency counts as the viewer sees it."""
    x, y = _luminance(reference), _luminance(candidate)
    mean_x, mean_y = _blur(x), _blur(y)
    var_x = _blur(x * x) - mean_x * mean_x
    var_y = _blur(y * y) - mean_y * mean_y
    covariance = _blur(x * y) - mean_x * mean_y
    numerator = (mean_x * mean_y * 2 + _C1) * (covariance * 2 + _C2)
    denominator = (mean_x * mean_x + mean_y * mean_y + _C1) * (var_x + var_y + _C2)
    return float((numerator / denominator).avg())


def _luminance(image: pyvips.Image) -> pyvips.Image:
    if image.hasalpha():
        image = image.flatten(background=[255, 255, 255])
    shrink = math.ceil(max(image.width, image.height) / SIDE)
    if shrink > 1:
        image = image.shrink(shrink, shrink)
    return image.colourspace("b-w")[0].cast("float")


def _blur(image: pyvips.Image) -> pyvips.Image:
    return image.gaussblur(_SIGMA, precision="float")
