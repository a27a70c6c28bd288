"""A job's analysis (`"analysis": true`): what the decode its outputs are made from already tells.

It reads no pixels of its own: one thumbnail of the first decoded page (the first frame of an
animation), at most `placeholders.THUMBNAIL` pixels a side, made from the image in memory by
libvips (a box shrink, then a resample), gives the palette and both placeholders; the decoded
image tells alpha, the header frames, and the reader has the EXIF block the codec already parsed.
Its cost is bounded by the thumbnail: 4 kB of pixels and about 15 ms of pure Python, whatever the
source's size, after libvips has shrunk the decoded image (one pass over it: about 50 ms for 24 MP).

It never fails a job. A part that cannot be had (the thumbnail refused, an EXIF block that is not
readable, no time left) is null, and `notes` says which and why; the rest is still reported.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pyvips

from imagejobs.deadline import Deadline
from imagejobs.engine import exif, frames, placeholders
from imagejobs.engine.placeholders import Pixel
from imagejobs.engine.readers.base import Reader
from imagejobs.spec.documents import Analysis, Camera, GpsPosition, PaletteColour
from imagejobs.spec.requests import AnalysisRequest

MIN_SECONDS = 1.0  # the time the job must have left for the pictorial part, which takes well under that
PALETTE_SIZE = 6
_CLUSTERS = 8  # before near colours are merged
_MERGE_DELTA_E = 12.0  # CIE76: colours closer than this are one colour to the eye
_MIN_SHARE = 0.01  # a colour of less is not dominant
_OPAQUE = 128  # pixels more transparent than this have no colour to count


def analyse(image: pyvips.Image, reader: Reader, page: int, options: AnalysisRequest, deadline: Deadline) -> Analysis:
    """The analysis of `image`, page `page` (0-based) of the source `reader` read, as decoded (upright sRGB)."""
    notes: list[str] = []
    palette = blurhash = thumbhash = None
    if deadline.seconds_left() < MIN_SECONDS:
        notes.append("pixels: skipped, the job had no time left for them")
    else:
        try:
            width, height, pixels = _thumbnail(frames.first(image) if frames.is_animated(image) else image)
        except pyvips.Error as error:
            notes.append(f"pixels: the thumbnail could not be made ({_first_line(error)})")
        else:
            palette = _palette(pixels)
            flat = _flattened(pixels)
            nx, ny = (4, 3) if width >= height else (3, 4)
            blurhash = placeholders.blurhash(width, height, flat, nx, ny)
            thumbhash = placeholders.thumbhash(width, height, pixels)
    found = exif.Exif()
    if block := reader.exif(page):
        try:
            found = exif.read(block, gps=options.gps)
        except exif.ExifError as error:
            notes.append(f"exif: unreadable ({str(error)[:120]})")
    camera = Camera(make=found.make, model=found.model) if found.make or found.model else None
    gps = None
    if found.latitude is not None and found.longitude is not None:
        gps = GpsPosition(latitude=found.latitude, longitude=found.longitude, altitude=found.altitude)
    return Analysis(
        palette=palette,
        blurhash=blurhash,
        thumbhash=thumbhash,
        has_alpha=image.hasalpha(),
        animated=reader.frames > 1,
        frames=reader.frames,
        camera=camera,
        captured_at=found.captured_at,
        gps=gps,
        notes=notes,
    )


def _first_line(error: pyvips.Error) -> str:
    return (str(error).strip().splitlines() or ["libvips refused"])[0][:120]


def _thumbnail(image: pyvips.Image) -> tuple[int, int, list[Pixel]]:
    """The image at most THUMBNAIL a side (alpha premultiplied while it shrinks), as RGBA pixels."""
    side = placeholders.THUMBNAIL
    small = image.thumbnail_image(side, height=side, size="down") if max(image.width, image.height) > side else image
    if not small.hasalpha():
        small = small.bandjoin(255)
    small = small.cast("uchar")
    data = small.write_to_memory()
    return small.width, small.height, [tuple(data[index : index + 4]) for index in range(0, len(data), 4)]


def _average(pixels: Sequence[Pixel]) -> tuple[float, float, float]:
    weights = sum(pixel[3] for pixel in pixels) or 1
    r, g, b = (sum(pixel[band] * pixel[3] for pixel in pixels) / weights for band in range(3))
    return r, g, b


def _flattened(pixels: Sequence[Pixel]) -> list[Pixel]:
    """The pixels over their own average colour: what BlurHash, which has no alpha, is given."""
    average = _average(pixels)
    return [
        (*(round((pixel[band] * pixel[3] + average[band] * (255 - pixel[3])) / 255) for band in range(3)), 255)  # type: ignore[misc]
        for pixel in pixels
    ]


# ---- the palette: median cut, refined by k-means, near colours merged ---------------------------

type Colour = tuple[float, float, float]


def _palette(pixels: Sequence[Pixel]) -> list[PaletteColour]:
    """Binned first (5 bits a channel, each bin its mean colour), so that the clustering sees a few
    hundred weighted colours rather than every pixel."""
    bins: dict[int, list[int]] = {}
    for r, g, b, a in pixels:
        if a >= _OPAQUE:
            found = bins.setdefault((r >> 3) << 10 | (g >> 3) << 5 | b >> 3, [0, 0, 0, 0])
            found[0] += r
            found[1] += g
            found[2] += b
            found[3] += 1
    if not bins:
        return []
    colours = [(r / count, g / count, b / count) for r, g, b, count in bins.values()]
    weights = [count for *_, count in bins.values()]
    clusters = _merged(_kmeans(colours, weights, _median_cut(colours, weights, _CLUSTERS)))
    total = len(pixels)
    return [
        PaletteColour(color="#" + "".join(f"{round(value):02x}" for value in centre), share=round(weight / total, 3))
        for centre, weight in sorted(clusters, key=lambda cluster: -cluster[1])[:PALETTE_SIZE]
        if weight / total >= _MIN_SHARE
    ]


def _median_cut(colours: list[Colour], weights: list[int], count: int) -> list[Colour]:
    """`count` starting centres at most: the box of widest range split at its weighted median, in turn."""
    boxes = [list(range(len(colours)))]
    while len(boxes) < count:
        widest, band, span = None, 0, 0.0
        for box in boxes:
            for channel in range(3):
                values = [colours[index][channel] for index in box]
                if max(values) - min(values) > span:
                    widest, band, span = box, channel, max(values) - min(values)
        if widest is None:
            break
        widest.sort(key=lambda index: colours[index][band])
        half, running, cut = sum(weights[index] for index in widest) / 2, 0, 1
        for position, index in enumerate(widest[:-1], start=1):
            running += weights[index]
            cut = position
            if running >= half:
                break
        boxes.remove(widest)
        boxes += [widest[:cut], widest[cut:]]
    return [_mean([colours[index] for index in box], [weights[index] for index in box]) for box in boxes]


def _mean(colours: Sequence[Sequence[float]], weights: Sequence[float]) -> Colour:
    total = sum(weights)
    r, g, b = (
        sum(colour[band] * weight for colour, weight in zip(colours, weights, strict=True)) / total for band in range(3)
    )
    return r, g, b


def _kmeans(colours: list[Colour], weights: list[int], centres: list[Colour]) -> list[tuple[Colour, int]]:
    """A few rounds of Lloyd's k-means from `centres`: each centre with the weight of its colours."""
    members: list[list[int]] = []
    for _ in range(4):
        members = [[] for _ in centres]
        for index, (r, g, b) in enumerate(colours):
            distances = [(r - cr) ** 2 + (g - cg) ** 2 + (b - cb) ** 2 for cr, cg, cb in centres]
            members[distances.index(min(distances))].append(index)
        centres = [
            _mean([colours[index] for index in group], [weights[index] for index in group]) if group else centre
            for centre, group in zip(centres, members, strict=True)
        ]
    return [
        (centre, sum(weights[index] for index in group))
        for centre, group in zip(centres, members, strict=True)
        if group
    ]


def _distance(first: Sequence[float], second: Sequence[float]) -> float:
    return sum((a - b) ** 2 for a, b in zip(first, second, strict=True))


def _merged(clusters: list[tuple[Colour, int]]) -> list[tuple[Colour, int]]:
    """The clusters with the nearest two (in CIELAB) merged while they are closer than _MERGE_DELTA_E."""
    clusters = list(clusters)
    while len(clusters) > 1:
        labs = [_lab(centre) for centre, _ in clusters]
        pairs = [(i, j) for i in range(len(clusters)) for j in range(i + 1, len(clusters))]
        i, j = min(pairs, key=lambda pair: _distance(labs[pair[0]], labs[pair[1]]))
        if math.sqrt(_distance(labs[i], labs[j])) >= _MERGE_DELTA_E:
            break
        (first, first_weight), (second, second_weight) = clusters[i], clusters[j]
        joined = (_mean([first, second], [first_weight, second_weight]), first_weight + second_weight)
        clusters = [cluster for k, cluster in enumerate(clusters) if k not in (i, j)] + [joined]
    return clusters


def _lab(colour: Colour) -> Colour:
    """sRGB (0-255) as CIELAB (D65)."""
    r, g, b = (_linear(value / 255) for value in colour)
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883
    fx, fy, fz = (value ** (1 / 3) if value > 0.008856 else 7.787 * value + 16 / 116 for value in (x, y, z))
    return (116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz))


def _linear(value: float) -> float:
    return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4
