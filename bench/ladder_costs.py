"""The measurements behind the ladder's cost model (`imagejobs.engine.ladder`), single-threaded.

    .venv/bin/python bench/ladder_costs.py      # about a minute; needs the real photos (photos.py)

On the real 6 MP JPEG, its WebP, and the real 8 MP JPEG: (1) decoding at each shrink-on-load
factor; (2) `thumbnail_image` of an in-memory image, per pixel scaled from; (3) what keeping a
rung in memory adds (a lazily scaled rung encoded, against the same rung computed into memory
first and then encoded); (4) a 5-rung ladder made three ways: every rung from the decode, a full
cascade, and the engine's plan — time, and each rung's SSIM against the same rung scaled from a
whole decode. Times are CPU times (one thread: the work itself), the least of LADDER_REPEATS runs
(default 7) after one unmeasured: the machine is shared, and that run is the least disturbed.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ["VIPS_CONCURRENCY"] = "1"
BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent / "layers" / "common"), str(BENCH.parent)]

import inputs  # noqa: E402
import pyvips  # noqa: E402

from imagejobs.deadline import Deadline  # noqa: E402
from imagejobs.engine import ladder  # noqa: E402
from imagejobs.spec.outputs import Output  # noqa: E402
from tests.images import ssim  # noqa: E402

pyvips.cache_set_max(0)
REPEATS = int(os.environ.get("LADDER_REPEATS", "7"))
WIDTHS = (1920, 1280, 960, 640, 320)


def timed(run: Callable[[], object]) -> float:
    run()
    samples = []
    for _ in range(REPEATS):
        start = time.process_time()
        run()
        samples.append((time.process_time() - start) * 1000)
    return min(samples)


def decode(data: bytes, loader: str, factor: int) -> pyvips.Image:
    option = {"jpegload_buffer": {"shrink": factor}, "webpload_buffer": {"scale": 1 / factor}}[loader]
    return pyvips.Operation.call(loader, data, **(option if factor > 1 else {})).copy_memory()


def png(image: pyvips.Image) -> bytes:
    return image.pngsave_buffer(compression=1)


def main() -> None:
    for key, loader in (
        ("photo6", "jpegload_buffer"),
        ("photo6_webp", "webpload_buffer"),
        ("photo8", "jpegload_buffer"),
    ):
        measure(key, loader)


def measure(key: str, loader: str) -> None:
    data = inputs.path(key).read_bytes()
    whole = decode(data, loader, 1)
    print(f"\n## {inputs.INPUTS[key].description}: {whole.width}x{whole.height}, {len(data):,} bytes")
    print("\n| decode at | size | ms | ns per source pixel |\n|---|---|--:|--:|")
    for factor in (1, 2, 4, 8):
        image = decode(data, loader, factor)
        ms = timed(lambda factor=factor: decode(data, loader, factor))
        print(
            f"| 1/{factor} | {image.width}x{image.height} | {ms:.1f} | {ms * 1e6 / (whole.width * whole.height):.2f} |"
        )
    outputs = [
        Output.model_validate({"name": f"w{w}", "format": "webp", "operations": [{"type": "resize", "width": w}]})
        for w in WIDTHS
    ]
    page = (whole.width, whole.height)
    rungs = ladder.plan(outputs, page, page, 16384)
    sizes = [rung.size for rung in rungs]
    print("\n| scale from | to | ms | ns per pixel scaled from |\n|---|---|--:|--:|")
    made = {page: whole}
    for size in sizes:
        made[size] = whole.thumbnail_image(size[0], height=size[1], size="force").copy_memory()
    per_pixel = []
    for start in [page, *sizes[:-1]]:
        for size in sizes:
            if size[0] >= start[0]:
                continue
            image = made[start]
            ms = timed(
                lambda image=image, size=size: image.thumbnail_image(
                    size[0], height=size[1], size="force"
                ).copy_memory()
            )
            per_pixel.append(ms * 1e6 / (start[0] * start[1]))
            print(f"| {start[0]}x{start[1]} | {size[0]}x{size[1]} | {ms:.1f} | {per_pixel[-1]:.2f} |")
    print(f"\nscaling, median ns per pixel scaled from: {statistics.median(per_pixel):.2f}")
    print("\n| rung | encoded lazily ms | kept, then encoded ms | keeping: ns per rung pixel |\n|---|--:|--:|--:|")
    for size in sizes[:3]:
        lazy = timed(
            lambda size=size: whole.thumbnail_image(size[0], height=size[1], size="force").jpegsave_buffer(Q=80)
        )
        kept = timed(
            lambda size=size: (
                whole.thumbnail_image(size[0], height=size[1], size="force").copy_memory().jpegsave_buffer(Q=80)
            )
        )
        print(f"| {size[0]}x{size[1]} | {lazy:.1f} | {kept:.1f} | {(kept - lazy) * 1e6 / (size[0] * size[1]):.2f} |")
    reference = {size: png(whole.thumbnail_image(size[0], height=size[1], size="force")) for size in sizes}
    shrunk = decode(data, loader, next(f for f in (8, 4, 2, 1) if -(-page[0] // f) >= sizes[0][0]))
    ways = {
        "every rung from the decode": [ladder.Rung(size, None, 1, False) for size in sizes],
        "cascade (each from the rung above)": [
            ladder.Rung(size, sizes[i - 1] if i else None, 1, i < len(sizes) - 1) for i, size in enumerate(sizes)
        ],
        "the engine's plan": ladder.plan(outputs, page, (shrunk.width, shrunk.height), 16384),
    }
    print(
        f"\nA {len(sizes)}-rung ladder ({', '.join(f'{w}' for w in WIDTHS)} w) from the shrunk decode "
        f"({shrunk.width}x{shrunk.height}), every rung computed into memory:"
    )
    print("\n| made | ms | lowest SSIM vs the rung from a whole decode |\n|---|--:|--:|")
    for name, planned in ways.items():

        def run(planned: list[ladder.Rung] = planned) -> dict[tuple[int, int], pyvips.Image]:
            made = ladder.make(shrunk, planned, Deadline.unlimited())
            return {size: image.copy_memory() for size, image in made.items()}

        ms = timed(run)
        result = run()
        lowest = min(ssim(png(result[size]), reference[size]) for size in sizes)
        print(f"| {name} | {ms:.1f} | {lowest:.4f} |")


if __name__ == "__main__":
    main()
