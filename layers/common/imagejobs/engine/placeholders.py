"""BlurHash and ThumbHash placeholders of a small image, in pure Python (no numpy in the layers).

Both are a few low-frequency DCT coefficients of the picture, packed into a short string: BlurHash
as its specification describes (github.com/woltapp/blurhash, Algorithm.md: sRGB to linear light,
a DC term and `nx * ny - 1` AC terms, base 83), ThumbHash as its author's reference does
(github.com/evanw/thumbhash: luminance, two chroma channels and alpha, bytes given here in base64).
Their inputs are the pixels of a thumbnail of at most THUMBNAIL pixels a side, as `(r, g, b, a)`
rows; the sums are separable (rows first, then columns), so a 32x32 thumbnail costs a few ms.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence

type Pixel = tuple[int, int, int, int]

# A side, at most, of the thumbnail the palette and both placeholders are computed from: enough for
# their few terms (ThumbHash's own limit is 100), and 1,024 pixels at most of pure Python.
THUMBNAIL = 32
_BASE83 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~"


def _cosines(count: int, length: int, offset: float) -> list[list[float]]:
    """cos(pi * k * (i + offset) / length) for k < count, i < length: the DCT's basis along one side."""
    return [[math.cos(math.pi * k * (i + offset) / length) for i in range(length)] for k in range(count)]


def _project(
    channel: Sequence[float], size: tuple[int, int], nx: int, ny: int, offset: float = 0.5
) -> list[list[float]]:
    """The mean of channel x basis(cx, cy) for cx < nx, cy < ny: [cy][cx]. ThumbHash samples the
    basis at pixel centres (offset 0.5), BlurHash at pixel corners (0)."""
    width, height = size
    fx, fy = _cosines(nx, width, offset), _cosines(ny, height, offset)
    rows = [
        [sum(value * weight for value, weight in zip(channel[y * width : (y + 1) * width], fx[cx], strict=True))
         for cx in range(nx)]
        for y in range(height)
    ]  # fmt: skip
    area = width * height
    return [[sum(rows[y][cx] * fy[cy][y] for y in range(height)) / area for cx in range(nx)] for cy in range(ny)]


# ---- BlurHash -----------------------------------------------------------------------------------


def _linear(value: float) -> float:
    value /= 255
    return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4


def _srgb(value: float) -> int:
    value = min(1.0, max(0.0, value))
    encoded = value * 12.92 if value <= 0.0031308 else 1.055 * value ** (1 / 2.4) - 0.055
    return int(encoded * 255 + 0.5)


def _base83(value: int, digits: int) -> str:
    return "".join(_BASE83[(value // 83 ** (digits - 1 - index)) % 83] for index in range(digits))


def blurhash(width: int, height: int, pixels: Sequence[Pixel], nx: int = 4, ny: int = 3) -> str:
    """The BlurHash of the pixels (alpha ignored: flatten them first), with nx x ny components (1 to 9)."""
    table = [_linear(value) for value in range(256)]
    factors = [
        _project([table[pixel[band]] for pixel in pixels], (width, height), nx, ny, offset=0) for band in range(3)
    ]  # [band][cy][cx]
    # its AC terms are scaled by 2
    components = [
        tuple(factors[band][cy][cx] * (1 if cx == cy == 0 else 2) for band in range(3))
        for cy in range(ny)
        for cx in range(nx)
    ]
    dc, ac = components[0], components[1:]
    largest = max((abs(value) for term in ac for value in term), default=0.0)
    quantised = int(max(0, min(82, math.floor(largest * 166 - 0.5)))) if ac else 0
    scale = (quantised + 1) / 166 if ac else 1.0
    text = _base83((nx - 1) + (ny - 1) * 9, 1) + _base83(quantised, 1)
    text += _base83((_srgb(dc[0]) << 16) + (_srgb(dc[1]) << 8) + _srgb(dc[2]), 4)
    for term in ac:
        r, g, b = (int(max(0, min(18, math.floor(_signed_root(value / scale) * 9 + 9.5)))) for value in term)
        text += _base83(r * 19 * 19 + g * 19 + b, 2)
    return text


def _signed_root(value: float) -> float:
    return math.copysign(math.sqrt(abs(value)), value)


# ---- ThumbHash ----------------------------------------------------------------------------------


def _channel_terms(
    channel: Sequence[float], size: tuple[int, int], nx: int, ny: int
) -> tuple[float, list[float], float]:
    """(DC, the AC terms normalised to 0..1, their scale) of the triangle cx * ny < nx * (ny - cy)."""
    factors = _project(channel, size, nx, ny)
    dc, ac = 0.0, []
    for cy in range(ny):
        cx = 0
        while cx * ny < nx * (ny - cy):
            if cx or cy:
                ac.append(factors[cy][cx])
            else:
                dc = factors[cy][cx]
            cx += 1
    scale = max((abs(value) for value in ac), default=0.0)
    return dc, [0.5 + 0.5 / scale * value for value in ac] if scale else ac, scale


def thumbhash(width: int, height: int, pixels: Sequence[Pixel]) -> str:
    """The ThumbHash of the pixels (RGB not premultiplied; at most 100 a side), in base64."""
    if not (0 < width <= 100 and 0 < height <= 100):
        raise ValueError(f"{width}x{height} does not fit in 100x100")
    weights = [pixel[3] / 255 for pixel in pixels]
    total = sum(weights)
    average = [
        sum(weight * pixel[band] / 255 for weight, pixel in zip(weights, pixels, strict=True)) for band in (0, 1, 2)
    ]
    if total:
        average = [value / total for value in average]
    has_alpha = total < width * height
    l_limit = 5 if has_alpha else 7
    lx = max(1, round(l_limit * width / max(width, height)))
    ly = max(1, round(l_limit * height / max(width, height)))
    lum, p, q = [], [], []
    for weight, pixel in zip(weights, pixels, strict=True):  # composited atop the average colour
        r, g, b = (average[band] * (1 - weight) + weight / 255 * pixel[band] for band in range(3))
        lum.append((r + g + b) / 3)
        p.append((r + g) / 2 - b)
        q.append(r - g)
    l_dc, l_ac, l_scale = _channel_terms(lum, (width, height), max(3, lx), max(3, ly))
    p_dc, p_ac, p_scale = _channel_terms(p, (width, height), 3, 3)
    q_dc, q_ac, q_scale = _channel_terms(q, (width, height), 3, 3)
    landscape = width > height
    header24 = (
        _round(63 * l_dc)
        | (_round(31.5 + 31.5 * p_dc) << 6)
        | (_round(31.5 + 31.5 * q_dc) << 12)
        | (_round(31 * l_scale) << 18)
        | (has_alpha << 23)
    )
    header16 = (ly if landscape else lx) | (_round(63 * p_scale) << 3) | (_round(63 * q_scale) << 9) | (landscape << 15)
    packed = [header24 & 255, (header24 >> 8) & 255, header24 >> 16, header16 & 255, header16 >> 8]
    terms = [l_ac, p_ac, q_ac]
    if has_alpha:
        a_dc, a_ac, a_scale = _channel_terms(weights, (width, height), 5, 5)
        packed.append(_round(15 * a_dc) | (_round(15 * a_scale) << 4))
        terms.append(a_ac)
    nibbles = [_round(15 * value) for ac in terms for value in ac]
    nibbles += [0] * (len(nibbles) % 2)
    packed += [low | (high << 4) for low, high in zip(nibbles[::2], nibbles[1::2], strict=True)]
    return base64.b64encode(bytes(packed)).decode()


def _round(value: float) -> int:
    """JavaScript's Math.round (halves up), which the reference uses: Python's round() halves to even."""
    return math.floor(value + 0.5)
