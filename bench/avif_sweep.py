"""AVIF encode only, libvips side of run.py's effort sweep: the 400x400 of case c at each effort.

    VIPS_CONCURRENCY=1 python bench/avif_sweep.py QUALITY REPEATS EFFORT...

Writes the pixels (raw RGB) for sharp's side next to the inputs and prints one JSON line with
their path and size, then one per effort: {"effort", "subsampling", "ms" (median), "bytes"}.
"""

from __future__ import annotations

import json
import statistics
import sys
import time

import inputs
import pyvips

pyvips.cache_set_max(0)


def main() -> None:
    quality, repeats, efforts = int(sys.argv[1]), int(sys.argv[2]), [int(e) for e in sys.argv[3:]]
    image = pyvips.Image.thumbnail(str(inputs.path("jpeg24")), 400, height=400, crop="centre").copy_memory()
    raw = inputs.CACHE / "avif-sweep-400x400.rgb"
    raw.write_bytes(image.write_to_memory())
    print(json.dumps({"path": str(raw), "width": image.width, "height": image.height}), flush=True)
    for effort in efforts:
        times, size = [], 0
        for index in range(repeats + 1):  # the first is not counted
            start = time.perf_counter()
            size = len(image.heifsave_buffer(Q=quality, compression="av1", effort=effort, keep="none"))
            if index:
                times.append((time.perf_counter() - start) * 1000)
        print(json.dumps({"effort": effort, "subsampling": "4:2:0", "ms": statistics.median(times), "bytes": size}))


if __name__ == "__main__":
    main()
