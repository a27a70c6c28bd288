"""The benchmark's inputs: real photographs (`photos.py`) and pictures made deterministically, cached
under bench/.cache.

Photo-like on purpose: smooth colour fields (low-resolution noise scaled up), a lit gradient,
soft-edged shapes, mid-frequency texture and fine sensor grain. Flat colour would make every
encoder look fast; the grain keeps the JPEGs at a phone camera's bytes per pixel (~0.3-0.4).
Every random choice comes from a seed, so the bytes are the same on every run of one libvips
build (the cache file name carries GENERATION; bump it when the recipe changes).
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from pathlib import Path

import photos
import pyvips

GENERATION = 2
CACHE = Path(__file__).resolve().parent / ".cache"


@dataclass(frozen=True)
class Input:
    name: str
    description: str


INPUTS = {
    "jpeg12": Input("photo-12mp.jpg", "4000x3000 JPEG q92 (12 MP)"),
    "jpeg24": Input("photo-24mp.jpg", "6000x4000 JPEG q92 (24 MP)"),
    "png_rgba": Input("graphic-2000-rgba.png", "2000x2000 RGBA PNG (alpha: soft shapes)"),
    "heic12": Input("photo-12mp.heic", "4000x3000 HEIC (HEVC, quality 80, by pillow-heif/x265)"),
    # Real photographs (photos.py fetches them); the WebP is the 6 MP one re-encoded, q90.
    "photo6": Input("flickr6", "real 2725x2225 camera JPEG (6 MP)"),
    "photo8": Input("uhdr8", "real 3840x2160 phone JPEG (8 MP)"),
    "photo6_webp": Input("photo-6mp-real.webp", "the real 6 MP photo as WebP q90"),
}


def _smooth(width: int, height: int, cell: int, sigma: float, seed: int) -> pyvips.Image:
    """Three bands of noise at 1/cell resolution, scaled up: colour clouds whose size is about `cell`."""
    small_w, small_h = max(2, width // cell + 2), max(2, height // cell + 2)
    bands = [pyvips.Image.gaussnoise(small_w, small_h, sigma=sigma, mean=0, seed=seed + i) for i in range(3)]
    return bands[0].bandjoin(bands[1:]).resize(cell, kernel="cubic").crop(0, 0, width, height)


def _shapes(canvas: pyvips.Image, count: int, rng: random.Random) -> pyvips.Image:
    """Discs and boxes of other colours, hard-edged (the caller blurs)."""
    width, height = canvas.width, canvas.height
    for _ in range(count):
        colour = [rng.uniform(10, 245) for _ in range(canvas.bands)]
        cx, cy = rng.randrange(width), rng.randrange(height)
        size = rng.randrange(max(width, height) // 60, max(width, height) // 8)
        if rng.random() < 0.5:
            canvas = canvas.draw_circle(colour, cx, cy, size, fill=True)
        else:
            canvas = canvas.draw_rect(colour, cx - size, cy - size // 2, size * 2, size, fill=True)
    return canvas


def photo(width: int, height: int, seed: int) -> pyvips.Image:
    """An sRGB uchar image that compresses and resizes like a photograph.

    The low frequencies (lighting, colour clouds, shapes, texture) are made at a quarter of the
    size, softened and scaled up; the sensor grain is added at full size.
    """
    rng = random.Random(seed)
    w4, h4 = width // 4 + 2, height // 4 + 2
    xyz = pyvips.Image.xyz(w4, h4)
    x, y = xyz[0] / w4, xyz[1] / h4
    # sky-to-ground lighting: a vertical gradient, warmer towards the bottom
    base = (x * 40 + 90).bandjoin([y * 60 + 100 - x * 20, 200 - y * 110])
    small = base + _smooth(w4, h4, max(w4, h4) // 5, 45, seed) + _smooth(w4, h4, 6, 10, seed + 10)
    small = _shapes(small.cast("float").copy_memory(), 70, rng)
    small = small + _smooth(w4, h4, 2, 6, seed + 40)  # texture on the shapes too
    large = small.gaussblur(0.8, precision="approximate").resize(4, kernel="cubic").crop(0, 0, width, height)
    grain = [pyvips.Image.gaussnoise(width, height, sigma=4, mean=0, seed=seed + 20 + i) for i in range(3)]
    return (large + grain[0].bandjoin(grain[1:])).cast("uchar").copy(interpretation="srgb")


def graphic_rgba(size: int, seed: int) -> pyvips.Image:
    """A photo-like RGBA image whose alpha is soft-edged shapes over a partly transparent field."""
    rng = random.Random(seed)
    rgb = photo(size, size, seed)
    s4 = size // 4
    alpha = (_smooth(s4, s4, s4 // 3, 60, seed + 30)[0] + 160).cast("float").copy_memory()
    for _ in range(25):
        centre, radius = (rng.randrange(s4), rng.randrange(s4)), rng.randrange(10, 80)
        alpha = alpha.draw_circle([rng.choice((0, 255))], *centre, radius, fill=True)
    alpha = alpha.gaussblur(1, precision="approximate").resize(4, kernel="cubic").crop(0, 0, size, size)
    return rgb.bandjoin(alpha.cast("uchar")).copy(interpretation="srgb")


def _make(key: str) -> bytes:
    if key == "jpeg12":
        return photo(4000, 3000, 12).jpegsave_buffer(Q=92, keep="none")
    if key == "jpeg24":
        return photo(6000, 4000, 24).jpegsave_buffer(Q=92, keep="none")
    if key == "png_rgba":
        return graphic_rgba(2000, 7).pngsave_buffer(compression=6, keep="none")
    if key == "photo6_webp":
        real = pyvips.Image.new_from_file(str(path("photo6")))
        return real.webpsave_buffer(Q=90, keep="none")
    if key == "heic12":
        import pillow_heif  # noqa: PLC0415 - only this input needs it
        from PIL import Image  # noqa: PLC0415

        rgb = pyvips.Image.new_from_buffer(path(key="jpeg12").read_bytes(), "")
        picture = Image.frombytes("RGB", (rgb.width, rgb.height), rgb.write_to_memory())
        out = io.BytesIO()
        pillow_heif.from_pillow(picture).save(out, format="HEIF", quality=80)
        return out.getvalue()
    raise KeyError(key)


def path(key: str) -> Path:
    """The cached input file, made (or, a real photo, fetched) on first use."""
    if INPUTS[key].name in photos.PHOTOS:
        return photos.path(INPUTS[key].name)
    target = CACHE / f"g{GENERATION}-{INPUTS[key].name}"
    if not target.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        data = _make(key)
        partial = target.with_suffix(target.suffix + ".part")
        partial.write_bytes(data)
        partial.replace(target)
    return target


def main() -> None:
    for key, spec in INPUTS.items():
        file = path(key)
        print(f"{file.name}: {spec.description}, {file.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
