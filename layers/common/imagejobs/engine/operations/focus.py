"""Steps that soften or sharpen: blur, sharpen."""

from __future__ import annotations

import pyvips

from imagejobs.engine.operations._base import Context, blurred, step
from imagejobs.spec.operations import Blur, Sharpen


@step(Blur)
def blur(image: pyvips.Image, op: Blur, _: Context) -> pyvips.Image:
    return blurred(image, op.sigma)


@step(Sharpen)
def sharpen(image: pyvips.Image, op: Sharpen, _: Context) -> pyvips.Image:
    """libvips' unsharp mask on lightness: edges get `amount`, flat areas half of it (sharp's defaults at 2)."""
    return image.sharpen(sigma=op.sigma, m1=op.amount / 2, m2=op.amount)
