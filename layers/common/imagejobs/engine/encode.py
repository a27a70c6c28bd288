"""Encoding one output: metadata stripped, JPEG flattened onto white."""

from __future__ import annotations

import pyvips

from imagejobs.errors import TooManyPixelsError
from imagejobs.outputs import Output

DEFAULT_QUALITY = 80
_WEBP_MAX_SIDE = 16383  # the WebP format's own limit


def encode(image: pyvips.Image, output: Output) -> bytes:
    quality = output.quality or DEFAULT_QUALITY
    if output.format == "jpeg":
        if image.hasalpha():
            image = image.flatten(background=[255, 255, 255])
        return image.jpegsave_buffer(Q=quality, optimize_coding=True, keep="none")
    if output.format == "webp":
        if max(image.width, image.height) > _WEBP_MAX_SIDE:
            raise TooManyPixelsError(
                f"output '{output.name}': WebP holds at most {_WEBP_MAX_SIDE} pixels per side, "
                f"not {image.width}x{image.height}"
            )
        return image.webpsave_buffer(Q=quality, keep="none")
    return image.pngsave_buffer(keep="none")
