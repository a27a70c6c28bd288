"""Steps that draw over the image or under it: text, watermark, flatten."""

from __future__ import annotations

import html
import math
from pathlib import Path

import pyvips

from imagejobs.engine import source
from imagejobs.engine.guard import reason
from imagejobs.engine.operations._base import (
    Context,
    X,
    Y,
    check_size,
    overlay,
    place,
    srgb,
    step,
    translucent,
)
from imagejobs.errors import CorruptImageError, TooLargeError, TooManyPixelsError, UnsupportedFormatError
from imagejobs.spec.geometry import length
from imagejobs.spec.operations import FONTS, Flatten, Text, Watermark, rgba

FONTS_DIR = Path(__file__).resolve().parents[2] / "fonts"
_MEAN_ADVANCE = 0.5  # a character's width, in font sizes, on average over a text
_LINE_HEIGHT = 1.17  # DejaVu's line spacing, in font sizes


@step(Text)
def text(image: pyvips.Image, op: Text, context: Context) -> pyvips.Image:
    """The text in a bundled font, wrapped at the image's width, placed at the gravity and offsets.

    The text is drawn whole before it is placed, so its size is held to the output dimension limit:
    estimated from its lines before it is drawn, then measured.
    """
    limit = context.max_output_dimension
    lines, height = _text_height(op.text, op.size, image.width)
    if height > limit:
        raise TooManyPixelsError(
            f"text: {len(op.text)} characters at size {op.size}, wrapped at {image.width} pixels, make about "
            f"{lines} lines, some {height} pixels tall, above the limit of {limit} per side"
        )
    family, file = FONTS[op.font]
    try:
        mask = pyvips.Image.text(
            html.escape(op.text, quote=False),  # libvips reads Pango markup: the text is shown as written
            font=f"{family} {op.size}",
            fontfile=str(FONTS_DIR / file),
            dpi=72,  # so a point is a pixel
            width=image.width,
            wrap="word-char",
            align="low" if "west" in op.gravity else "high" if "east" in op.gravity else "centre",
        )
    except pyvips.Error as error:  # cairo draws at most 32767 pixels a side
        raise TooManyPixelsError(f"text at size {op.size} is too large to draw: {reason(error)}") from error
    if max(mask.width, mask.height) > limit:
        raise TooManyPixelsError(f"text: drawn {mask.width}x{mask.height} pixels, above the limit of {limit} per side")
    red, green, blue, alpha = rgba(op.color)
    opacity = op.opacity * alpha / 255
    layer = mask.new_from_image([red, green, blue]).bandjoin(mask * opacity).cast("uchar").copy(interpretation="srgb")
    return overlay(image, layer, *place(image, layer, op.gravity, op.offset_x, op.offset_y))


@step(Watermark)
def watermark(image: pyvips.Image, op: Watermark, context: Context) -> pyvips.Image:
    """Another upload over the image; `width`/`height` scale it to fit within them (percentages: of the image)."""
    mark, size = _mark(context, op.upload_id), (image.width, image.height)
    if op.width is not None or op.height is not None:
        scale = min(
            length(op.width, size, X) / mark.width if op.width is not None else math.inf,
            length(op.height, size, Y) / mark.height if op.height is not None else math.inf,
        )
        width, height = max(1, round(mark.width * scale)), max(1, round(mark.height * scale))
        check_size(width, height, "watermark")
        mark = mark.thumbnail_image(width, height=height, size="force")
    layer = translucent(mark, op.opacity)
    return overlay(image, layer, *place(image, layer, op.gravity, op.offset_x, op.offset_y))


def _text_height(text: str, size: int, width: int) -> tuple[int, int]:
    """(lines, pixels tall) a text is likely to take at `size`, wrapped at `width`: each paragraph's
    characters at half their size wide on average (DejaVu's), lines `_LINE_HEIGHT` sizes apart."""
    lines = sum(max(1, math.ceil(len(paragraph) * size * _MEAN_ADVANCE / width)) for paragraph in text.split("\n"))
    return lines, math.ceil(lines * size * _LINE_HEIGHT)


def _mark(context: Context, upload_id: str) -> pyvips.Image:
    """The upload decoded as a source is (same checks, same error codes), once per render; its first frame."""
    if (mark := context.marks.get(upload_id)) is None:
        data = context.load_upload(upload_id)
        try:
            header = source.read_header(data, context.max_source_pixels, context.max_frames)
            mark = source.decode(header, context.deadline)[0].image
        except (CorruptImageError, UnsupportedFormatError, TooManyPixelsError, TooLargeError) as error:
            raise type(error)(f"watermark {upload_id}: {error.message}") from error
        if mark.get_typeof("page-height"):  # an animation's frames, stacked
            mark = mark.crop(0, 0, mark.width, mark.get("page-height"))
        context.marks[upload_id] = mark
    return mark


@step(Flatten)
def flatten(image: pyvips.Image, op: Flatten, _: Context) -> pyvips.Image:
    if not image.hasalpha():
        return image
    return srgb(image).flatten(background=list(rgba(op.background)[:3])).cast(image.format)
