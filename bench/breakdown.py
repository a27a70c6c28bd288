"""Where our engine's time goes on cases a-c, and what the process handler's import is made of.

    .venv/bin/python bench/breakdown.py      (not part of `make bench`; about 30 s)

Single-threaded (it sets VIPS_CONCURRENCY=1 for itself), median of 5 after one unmeasured run.
Then the engine's own steps on the real photographs' ladder and single-output cases (g, h, j): the CPU
time and page faults of each step `render` traces.
Each step in isolation, with plain pyvips: the engine's way (decode the whole source into memory,
then thumbnail_image) against shrink-on-load (thumbnail_buffer), and the JPEG encoder with and
without mozjpeg's trellis quantisation (the engine's `balanced` effort turns it on; sharp's
default leaves it off). Then `import X` in a fresh interpreter for the handler's heavy imports.
"""

from __future__ import annotations

import os

os.environ["VIPS_CONCURRENCY"] = "1"

import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import inputs
import pyvips

pyvips.cache_set_max(0)
ROOT = Path(__file__).resolve().parent.parent


def timed(what: str, step: Callable[[], object], runs: int = 5) -> float:
    step()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        step()
        samples.append((time.perf_counter() - start) * 1000)
    median = statistics.median(samples)
    print(f"  {what:72} {median:7.0f} ms")
    return median


def pixels() -> None:
    jpeg12, jpeg24 = inputs.path("jpeg12").read_bytes(), inputs.path("jpeg24").read_bytes()

    def full(data: bytes) -> pyvips.Image:
        return pyvips.Image.new_from_buffer(data, "").copy_memory()

    print("12 MP JPEG (cases a, b, f)")
    timed("decode whole into memory (the engine: new_from_buffer + copy_memory)", lambda: full(jpeg12))
    decoded = full(jpeg12)
    timed("  then thumbnail_image to 800 w (from memory)", lambda: decoded.thumbnail_image(800).copy_memory())
    timed("  then thumbnail_image to 1920 w (from memory)", lambda: decoded.thumbnail_image(1920).copy_memory())
    timed(
        "thumbnail_buffer to 800 w (shrink-on-load 4, then resize)",
        lambda: pyvips.Image.thumbnail_buffer(jpeg12, 800).copy_memory(),
    )
    timed(
        "thumbnail_buffer to 1920 w (shrink-on-load 2, then resize)",
        lambda: pyvips.Image.thumbnail_buffer(jpeg12, 1920).copy_memory(),
    )
    big = decoded.thumbnail_image(1920).copy_memory()
    timed(
        "JPEG q85 of the 1920 w: optimize_coding (sharp's default)",
        lambda: big.jpegsave_buffer(Q=85, optimize_coding=True, keep="none"),
    )
    timed(
        "JPEG q85 of the 1920 w: + trellis_quant, overshoot_deringing (ours, balanced)",
        lambda: big.jpegsave_buffer(
            Q=85, optimize_coding=True, trellis_quant=True, overshoot_deringing=True, keep="none"
        ),
    )
    plain = len(big.jpegsave_buffer(Q=85, optimize_coding=True, keep="none"))
    trellis = len(
        big.jpegsave_buffer(Q=85, optimize_coding=True, trellis_quant=True, overshoot_deringing=True, keep="none")
    )
    print(f"  {'bytes: optimize_coding / + trellis':72} {plain:,} / {trellis:,} ({trellis / plain:.3f} of it)")
    print("24 MP JPEG (case c)")
    timed("decode whole into memory (the engine)", lambda: full(jpeg24))
    decoded = full(jpeg24)
    timed(
        "  then thumbnail_image 400x400 cover (from memory)",
        lambda: decoded.thumbnail_image(400, height=400, crop="centre").copy_memory(),
    )
    timed(
        "thumbnail_buffer 400x400 cover (shrink-on-load 8)",
        lambda: pyvips.Image.thumbnail_buffer(jpeg24, 400, height=400, crop="centre").copy_memory(),
    )
    header = pyvips.Image.new_from_buffer(jpeg24, "")
    timed("header only (new_from_buffer, no pixels)", lambda: pyvips.Image.new_from_buffer(jpeg24, "").width)
    print(f"  (24 MP decoded: {header.width * header.height * 3 / 2**20:.0f} MiB of pixels held by copy_memory)")


def ladder_steps() -> None:
    """The engine's own steps on the real photographs' cases (g, h, j), as `render` traces them: CPU time,
    user and system, and the minor page faults of each (median of 7 after one unmeasured run, one process)."""
    sys.path.insert(0, str(ROOT / "layers" / "common"))
    from imagejobs.deadline import Deadline  # noqa: PLC0415
    from imagejobs.engine import Limits, render  # noqa: PLC0415
    from imagejobs.spec.outputs import Output  # noqa: PLC0415

    limits = Limits(max_source_pixels=100_000_000, max_output_dimension=16384)
    ladder = (1920, 1280, 960, 640, 320)
    for title, key, fmt, widths in (
        ("g: real 6 MP JPEG -> JPEG ladder q80", "photo6", "jpeg", ladder),
        ("h: the 6 MP photo as WebP -> WebP ladder q80", "photo6_webp", "webp", ladder),
        ("j: real 6 MP JPEG -> 800 w WebP q80", "photo6", "webp", (800,)),
    ):
        data = inputs.path(key).read_bytes()
        outputs = [
            Output.model_validate(
                {"name": f"w{width}", "format": fmt, "quality": 80, "operations": [{"type": "resize", "width": width}]}
            )
            for width in widths
        ]
        steps: dict[str, list[tuple[float, float, int]]] = {}

        @contextmanager
        def traced(name: str, steps: dict[str, list[tuple[float, float, int]]] = steps) -> Iterator[None]:
            before = resource.getrusage(resource.RUSAGE_SELF)
            yield
            after = resource.getrusage(resource.RUSAGE_SELF)
            steps.setdefault(name, []).append(
                (
                    (after.ru_utime - before.ru_utime) * 1000,
                    (after.ru_stime - before.ru_stime) * 1000,
                    after.ru_minflt - before.ru_minflt,
                )
            )

        render(data, outputs, limits, Deadline.unlimited())
        for _ in range(7):
            with traced("the whole render"):
                render(data, outputs, limits, Deadline.unlimited(), traced=traced)
        print(f"{title}: CPU ms (user + system), minor page faults")
        for name, samples in steps.items():
            user = statistics.median(sample[0] for sample in samples)
            system = statistics.median(sample[1] for sample in samples)
            faults = statistics.median(sample[2] for sample in samples)
            print(f"  {name:40} {user + system:7.1f} ms ({user:.1f} + {system:.1f})  {faults:7.0f} faults")


def imports() -> None:
    print("imports, each alone in a fresh interpreter (median of 5; the handler's own `import app` is in latest.md)")
    import run  # noqa: PLC0415 - its environment: the layers on sys.path, the Lambda runtime's variables

    env = run._import_env(lambda_like=True)
    for module in (
        "aws_xray_sdk.core",
        "aws_lambda_powertools",
        "aws_lambda_powertools.utilities.batch",
        "boto3",
        "pydantic",
        "pyvips",
        "PIL.Image",
        "imagejobs.observability",
        "imagejobs.store.aws",
        "imagejobs.spec.documents",
        "imagejobs.spec.operations",
        "imagejobs.engine",
        "imagejobs.services.processing",
        "app",
    ):
        probe = f"import time; t = time.perf_counter(); import {module}; print((time.perf_counter() - t) * 1000)"
        samples = []
        for index in range(6):
            done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                samples = []
                break
            if index:
                samples.append(float(done.stdout.split()[-1]))
        shown = f"{statistics.median(samples):7.0f} ms" if samples else "  fails"
        print(f"  import {module:65} {shown}")


if __name__ == "__main__":
    pixels()
    ladder_steps()
    imports()
