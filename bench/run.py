"""The benchmark of issue 3, item 7: sharp, a naive Pillow pipeline and our engine, side by side.

    .venv/bin/python bench/run.py          (or: make bench)

Per threading mode and case, one long-lived worker process per implementation (worker.py for
Python, sharp_worker.js for sharp) loads its libraries and the input, runs once unmeasured, then
the workers take turns, one run each per iteration, the order rotating every iteration. A worker
times its own run (bytes in memory → encoded bytes in memory), so process start-up and the pipe
are not measured. Peak RSS is each worker's VmHWM (/proc/self/status) after its last run: one
process per implementation per case per mode, so the number is that implementation's on that case
alone. (Not wait4()'s ru_maxrss: Linux carries the parent's peak into it over fork and exec, so
every worker reported the 433 MB of a bench that had just made its inputs.)

Settings (environment): BENCH_ITERATIONS (every case; default per case, 2-5), BENCH_CASES
(e.g. "a,c,f"), BENCH_MODES ("single,threaded"), BENCH_IMPORT_RUNS (default 9; 0 skips),
BENCH_SWEEP_REPEATS (the AVIF effort sweep; default 3; 0 skips).
Writes bench/results/latest.md and latest.json, and prints the tables.
"""

# The multiplication sign and the en dash are the report's typography; the orchestration reads best
# as one function per step.
# ruff: noqa: RUF001, PLR0912, PLR0917

from __future__ import annotations

import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

import cases as bench_cases  # noqa: E402
import cost  # noqa: E402
import inputs  # noqa: E402

RESULTS = BENCH / "results"
MODES = {
    "single": "single-threaded (VIPS_CONCURRENCY=1, sharp.concurrency(1) + UV_THREADPOOL_SIZE=1, one Pillow thread)",
    "threaded": "default threading (libvips: one thread per core; sharp.concurrency(cores); Pillow's defaults)",
}


@dataclass
class Result:
    mode: str
    case: str
    impl: str
    status: str = "ok"  # ok | unsupported | failed
    message: str = ""
    ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    bytes: int | None = None
    sizes: list[list[int]] = field(default_factory=list)
    baseline_kb: int | None = None
    peak_kb: int | None = None
    threads: int | None = None
    note: str = ""  # e.g. how a hand-made variant encodes

    @property
    def median(self) -> float | None:
        return statistics.median(self.ms) if self.ms else None


class Worker:
    """One implementation of one case in its own process."""

    def __init__(self, impl: str, spec: dict[str, Any], env: dict[str, str], log: IO[str]) -> None:
        if impl.startswith("sharp"):
            command = [shutil.which("node") or "node", str(BENCH / "sharp_worker.js"), impl, json.dumps(spec)]
        else:
            command = [sys.executable, str(BENCH / "worker.py"), impl, json.dumps(spec)]
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=env, text=True, cwd=ROOT
        )

    def read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            return {"error": f"the worker exited (code {self.process.poll()}); see results/workers.log"}
        return json.loads(line)

    def run(self) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write("run\n")
        self.process.stdin.flush()
        return self.read()

    def close(self) -> None:
        """Ends the worker."""
        assert self.process.stdin is not None
        try:
            self.process.stdin.write("quit\n")
            self.process.stdin.close()
        except BrokenPipeError:
            pass
        self.process.wait()


def mode_env(mode: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "layers" / "common")
    env.pop("VIPS_CONCURRENCY", None)
    env.pop("UV_THREADPOOL_SIZE", None)
    if mode == "single":
        env |= {"VIPS_CONCURRENCY": "1", "UV_THREADPOOL_SIZE": "1", "BENCH_THREADS": "1"}
    else:
        env["BENCH_THREADS"] = str(os.cpu_count() or 1)
    return env


def sharp_available() -> str | None:
    """None when node and bench/node_modules/sharp are there, else why not."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not (BENCH / "node_modules" / "sharp").is_dir():
        return "sharp is not installed (npm ci --prefix bench)"
    return None


def run_case(mode: str, case: bench_cases.Case, iterations: int, log: IO[str]) -> list[Result]:
    spec = {"input_path": str(inputs.path(case.input)), "outputs": case.outputs}
    if case.preset:
        spec["preset"] = case.preset
    env = mode_env(mode)
    results = {impl: Result(mode, case.key, impl) for impl in case.impls}
    workers: dict[str, Worker] = {}
    no_sharp = sharp_available()
    for impl in case.impls:
        if impl.startswith("sharp") and no_sharp:
            results[impl].status, results[impl].message = "failed", no_sharp
            continue
        log.write(f"--- {mode} {case.key} {impl}\n")
        log.flush()
        workers[impl] = Worker(impl, spec, env, log)
    for impl, worker in list(workers.items()):
        hello = worker.read()
        if "ready" not in hello:
            _fail(results[impl], hello)
            worker.close()
            del workers[impl]
            continue
        results[impl].baseline_kb, results[impl].threads = hello["baseline_kb"], hello.get("threads")
        results[impl].note = hello.get("note") or ""
    for impl, worker in list(workers.items()):  # the unmeasured first run: lazy initialisation, page cache
        if not case.warmup:
            break
        answer = worker.run()
        if "ms" not in answer:
            _fail(results[impl], answer)
            worker.close()
            del workers[impl]
            continue
        results[impl].peak_kb = answer["peak_kb"]
    order = list(workers)
    for iteration in range(iterations):
        shift = iteration % len(order) if order else 0
        for impl in order[shift:] + order[:shift]:
            answer = workers[impl].run()
            result = results[impl]
            if "ms" not in answer:
                _fail(result, answer)
                continue
            result.ms.append(answer["ms"])
            result.cpu_ms.append(answer["cpu_ms"])
            if result.bytes is not None and result.bytes != answer["bytes"]:
                result.message = "output bytes differ between runs"
            result.bytes, result.sizes = answer["bytes"], answer["sizes"]
            result.peak_kb = answer["peak_kb"]  # VmHWM only grows: the last run's is the peak
    for worker in workers.values():
        worker.close()
    return list(results.values())


def _fail(result: Result, answer: dict[str, Any]) -> None:
    if "unsupported" in answer:
        result.status, result.message = "unsupported", answer["unsupported"]
    elif result.status == "ok":
        result.status, result.message = "failed", answer.get("error", str(answer))


# --- cold import of the process handler -------------------------------------------------------------

IMPORT_PROBE = "import time; t = time.perf_counter(); import app; print((time.perf_counter() - t) * 1000)"


def _import_env(lambda_like: bool) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "functions" / "process"), str(ROOT / "layers" / "common")])
    env.pop("VIPS_CONCURRENCY", None)
    for name in ("LAMBDA_TASK_ROOT", "AWS_LAMBDA_FUNCTION_NAME", "AWS_EXECUTION_ENV"):
        env.pop(name, None)
    if lambda_like:
        # What the Lambda runtime sets; aws_xray_sdk and Powertools choose their set-up by them (outside
        # Lambda the X-Ray recorder builds a botocore session for its sampling rules: slower).
        env |= {
            "LAMBDA_TASK_ROOT": str(ROOT / "functions" / "process"),
            "AWS_LAMBDA_FUNCTION_NAME": "imagejobs-process",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
            "AWS_REGION": env.get("AWS_REGION", "us-east-1"),
        }
    return env


def _import_samples(env: dict[str, str], runs: int) -> tuple[list[float], list[float]] | str:
    samples: list[float] = []
    process_ms: list[float] = []
    for index in range(runs + 1):
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", IMPORT_PROBE], env=env, capture_output=True, text=True, cwd=ROOT, check=False
        )
        elapsed = (time.perf_counter() - start) * 1000
        if done.returncode != 0:
            return done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"
        if index:
            samples.append(float(done.stdout.strip().splitlines()[-1]))
            process_ms.append(elapsed)
    return samples, process_ms


def cold_import(runs: int) -> dict[str, Any]:
    """`import app` (functions/process) in a fresh interpreter, the layers on sys.path; median of runs.

    With the environment variables the Lambda runtime sets (the target's measure), and without.
    The first run of each is discarded (it may compile .pyc files and fill the page cache), so this
    is a process-cold, disk-warm import: what a cold start pays for the module, not for the runtime.
    """
    measured: dict[str, Any] = {"runs": runs}
    for key, lambda_like in (("lambda", True), ("plain", False)):
        got = _import_samples(_import_env(lambda_like), runs)
        if isinstance(got, str):
            return {"error": got}
        samples, process_ms = got
        measured[key] = {
            "median_ms": statistics.median(samples),
            "min_ms": min(samples),
            "max_ms": max(samples),
            "process_median_ms": statistics.median(process_ms),
        }
    detail = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import app"],
        env=_import_env(lambda_like=True),
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    measured["median_ms"] = measured["lambda"]["median_ms"]
    measured["heaviest"] = _importtime(detail.stderr)
    return measured


def _importtime(text: str) -> dict[str, list[tuple[str, float]]]:
    """From -X importtime: the slowest modules by their own time, and own time summed per top-level package.

    A package's own line does not include submodules imported later from elsewhere, so the sum of
    every module's own time under one top-level name is the honest "what this package costs".
    """
    rows: list[tuple[str, float]] = []
    for line in text.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|\s*(\S+)", line)
        if match:
            rows.append((match[3], int(match[1]) / 1000))
    packages: dict[str, float] = {}
    for name, own in rows:
        top = ".".join(name.split(".")[:2]) if name.startswith("imagejobs.") else name.split(".")[0]
        packages[top] = packages.get(top, 0.0) + own
    return {
        "self": sorted(rows, key=lambda row: -row[1])[:8],
        "packages": sorted(packages.items(), key=lambda item: -item[1])[:12],
        "total": [("all", sum(own for _, own in rows))],
    }


# --- AVIF: encode only, at each effort ---------------------------------------------------------------

SWEEP_EFFORTS = ("0", "1", "2", "3", "4")


def avif_sweep(repeats: int) -> dict[str, Any]:
    """The 400x400 of case c encoded at Q50 and each effort, single-threaded: libvips (4:2:0, as the
    engine writes it) and sharp (its default chroma, 4:4:4, and 4:2:0 at its default effort)."""
    env = mode_env("single")
    done = subprocess.run(
        [sys.executable, str(BENCH / "avif_sweep.py"), "50", str(repeats), *SWEEP_EFFORTS],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    raw, vips = lines[0], lines[1:]
    sharp: list[dict[str, Any]] = []
    if sharp_available() is None:
        spec = raw | {"quality": 50, "efforts": [int(e) for e in SWEEP_EFFORTS], "repeats": repeats}
        node = subprocess.run(
            ["node", str(BENCH / "avif_sweep.js"), json.dumps(spec)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if node.returncode == 0:
            sharp = [json.loads(line) for line in node.stdout.splitlines() if line.strip()]
    return {"repeats": repeats, "vips": vips, "sharp": sharp}


def sweep_table(sweep: dict[str, Any]) -> list[str]:
    if "error" in sweep:
        return [f"failed: {sweep['error']}"]
    default = next((row for row in sweep["sharp"] if row["effort"] == 4 and row["subsampling"] == "4:4:4"), None)
    lines = [
        "| encoder | effort | chroma | median ms | bytes | × as fast as sharp's default | × sharp's default bytes |",
        "|---|--:|---|--:|--:|--:|--:|",
    ]
    for who, rows in (("libvips (pyvips)", sweep["vips"]), ("sharp", sweep["sharp"])):
        for row in rows:
            speed = f"{default['ms'] / row['ms']:.1f}×" if default else "—"
            size = f"{row['bytes'] / default['bytes']:.3f}×" if default else "—"
            lines.append(
                f"| {who} | {row['effort']} | {row['subsampling']} | {_ms(row['ms'])} | {row['bytes']:,} "
                f"| {speed} | {size} |"
            )
    return lines


# --- the machine -----------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    total = re.search(r"^MemTotal:\s+(\d+)", meminfo, re.MULTILINE)
    facts = {
        "CPU": model[1] if model else platform.processor(),
        "cores": str(os.cpu_count()),
        "RAM": f"{int(total[1]) / 1024 / 1024:.1f} GiB" if total else "?",
        "OS": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "Python": platform.python_version(),
    }
    probe = (
        "import json, pyvips, PIL, pillow_heif; "
        "print(json.dumps({'libvips (pyvips-binary)': '.'.join(str(pyvips.version(i)) for i in range(3)), "
        "'pyvips': pyvips.__version__, 'Pillow': PIL.__version__, 'pillow-heif': pillow_heif.__version__, "
        "'libheif (pillow-heif)': pillow_heif.libheif_version()}))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)
    if done.returncode == 0:
        facts |= json.loads(done.stdout)
    if sharp_available() is None:
        node = subprocess.run(
            ["node", "-e", "const s=require('sharp');console.log(JSON.stringify([process.version,s.versions]))"],
            capture_output=True,
            text=True,
            cwd=BENCH,
            check=False,
        )
        if node.returncode == 0:
            version, versions = json.loads(node.stdout)
            facts |= {
                "node": version,
                "sharp": versions["sharp"],
                "libvips (sharp)": versions["vips"],
                "libaom (sharp)": versions.get("aom", "?"),
                "libwebp (sharp)": versions.get("webp", "?"),
            }
    return facts


# --- the report ------------------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}"


def _ratio(ours: float | None, theirs: float | None) -> str:
    return f"{ours / theirs:.2f}×" if ours is not None and theirs else "—"


def _mb(kb: int | None) -> str:
    return f"{kb / 1024:.0f}" if kb else "—"


def table(results: list[Result], all_cases: dict[str, bench_cases.Case]) -> list[str]:
    lines = [
        "| case | implementation | median ms | min–max ms | CPU ms | × sharp time | peak RSS MB (idle) "
        "| × sharp RSS | output bytes | × sharp bytes |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for case_key in dict.fromkeys(result.case for result in results):
        rows = [result for result in results if result.case == case_key]
        sharp = next((r for r in rows if r.impl == "sharp" and r.status == "ok"), None)
        for result in rows:
            label = bench_cases.IMPLS[result.impl].label + (f" ({result.note})" if result.note else "")
            first = f"**{case_key}** {all_cases[case_key].title}" if result is rows[0] else ""
            if result.status != "ok":
                what = "not supported yet" if result.status == "unsupported" else "fails"
                lines.append(f"| {first} | {label} | {what}: {result.message} | | | | | | | |")
                continue
            is_sharp = sharp is not None and result is sharp
            lines.append(
                "| "
                + " | ".join(
                    [
                        first,
                        label,
                        _ms(result.median),
                        f"{_ms(min(result.ms))}–{_ms(max(result.ms))}",
                        _ms(statistics.median(result.cpu_ms)),
                        "1" if is_sharp else _ratio(result.median, sharp.median if sharp else None),
                        f"{_mb(result.peak_kb)} ({_mb(result.baseline_kb)})",
                        "1" if is_sharp else _ratio(result.peak_kb, sharp.peak_kb if sharp else None),
                        f"{result.bytes:,}" if result.bytes is not None else "—",
                        "1" if is_sharp else _ratio(result.bytes, sharp.bytes if sharp else None),
                    ]
                )
                + " |"
            )
    return lines


def _get(results: list[Result], case: str, impl: str) -> Result | None:
    return next((r for r in results if r.case == case and r.impl == impl), None)


def targets(results: list[Result], imported: dict[str, Any] | None) -> list[tuple[str, str, str]]:
    """(target, met | missed | not measured, by how much) for one mode's results."""
    rows: list[tuple[str, str, str]] = []

    def usable(result: Result | None) -> bool:
        return result is not None and result.status == "ok" and bool(result.ms)

    def why(result: Result | None, name: str) -> str:
        if result is None:
            return f"{name} not run"
        return f"{name}: {result.status} ({result.message})"

    for case in "abcd":
        ours, sharp = _get(results, case, "ours"), _get(results, case, "sharp")
        if not (usable(ours) and usable(sharp)):
            if ours is not None or sharp is not None:
                missing = ours if not usable(ours) else sharp
                rows.append((f"{case}: time ≤ 1.0× sharp, peak RSS ≤ sharp", "not measured", why(missing, "")))
            continue
        assert ours is not None and ours.median is not None and sharp is not None and sharp.median is not None
        time_ratio = ours.median / sharp.median
        rss_ratio = (ours.peak_kb or 0) / (sharp.peak_kb or 1)
        rows.append(
            (
                f"{case}: median time ≤ 1.0× sharp",
                "met" if time_ratio <= 1.0 else "missed",
                f"{time_ratio:.2f}× ({_ms(ours.median)} vs {_ms(sharp.median)} ms)",
            )
        )
        rows.append(
            (
                f"{case}: peak RSS ≤ sharp's",
                "met" if rss_ratio <= 1.0 else "missed",
                f"{rss_ratio:.2f}× ({_mb(ours.peak_kb)} vs {_mb(sharp.peak_kb)} MB)",
            )
        )
    ours, separate = _get(results, "f", "ours"), _get(results, "f", "sharp-separate")
    if usable(ours) and usable(separate):
        assert ours is not None and ours.median and separate is not None and separate.median
        speedup = separate.median / ours.median
        rows.append(
            (
                "f: ≥ 1.5× faster than sharp's separate pipelines",
                "met" if speedup >= 1.5 else "missed",
                f"{speedup:.2f}× as fast ({_ms(ours.median)} vs {_ms(separate.median)} ms)",
            )
        )
    elif ours is not None:
        rows.append(("f: ≥ 1.5× faster than sharp's separate pipelines", "not measured", why(ours, "ours")))
    ours, sharp = _get(results, "c", "ours"), _get(results, "c", "sharp")
    if usable(ours) and usable(sharp):
        assert ours is not None and ours.median and sharp is not None and sharp.median and ours.bytes and sharp.bytes
        speedup, size = sharp.median / ours.median, ours.bytes / sharp.bytes
        met = speedup >= 5 and size <= 1.05
        rows.append(
            (
                "c: AVIF at default effort ≥ 5× faster than sharp's default, ≤ 5 % more bytes",
                "met" if met else "missed",
                f"{speedup:.2f}× as fast, {size:.3f}× the bytes ({ours.bytes:,} vs {sharp.bytes:,})",
            )
        )
    elif ours is not None:
        rows.append(("c: AVIF ≥ 5× faster than sharp at ≤ 5 % more bytes", "not measured", why(ours, "ours")))
    ours, sharp = _get(results, "e", "ours"), _get(results, "e", "sharp")
    if ours is not None:
        for impl in ("heif-pillow", "heif-buffer"):
            hand = _get(results, "e", impl)
            if usable(ours) and usable(hand):
                assert ours.median and hand is not None and hand.median
                ratio = ours.median / hand.median
                sharp_fails = sharp is None or sharp.status != "ok"
                rows.append(
                    (
                        f"e: works, sharp fails, ≤ 1.1× {bench_cases.IMPLS[impl].label}",
                        "met" if ratio <= 1.1 and sharp_fails else "missed",
                        f"{ratio:.2f}× ({_ms(ours.median)} vs {_ms(hand.median)} ms); sharp "
                        + ("fails" if sharp_fails else "works"),
                    )
                )
            elif not usable(ours):
                rows.append(("e: HEIC works", "missed", why(ours, "ours")))
                break
    rows += _photo_targets(results, usable, why)
    if imported is not None:
        if "median_ms" in imported:
            median = imported["median_ms"]
            rows.append(
                (
                    "process handler cold import ≤ 300 ms",
                    "met" if median <= 300 else "missed",
                    f"{median:.0f} ms ({median / 300:.2f}× the target)",
                )
            )
        else:
            rows.append(("process handler cold import ≤ 300 ms", "not measured", imported.get("error", "")))
    return rows


def _photo_targets(
    results: list[Result], usable: Callable[[Result | None], bool], why: Callable[[Result | None, str], str]
) -> list[tuple[str, str, str]]:
    """Issue 11 §1 on the real photographs: the ladders against their limit and sharp, single outputs
    against sharp, peak RSS against sharp's, and the threaded speed-up."""
    rows: list[tuple[str, str, str]] = []

    def versus(case: str, impl: str, other: str, name: str, most: float, *, rss: bool = False) -> None:
        ours, theirs = _get(results, case, impl), _get(results, case, other)
        if ours is None and theirs is None:
            return
        if not (usable(ours) and usable(theirs)):
            rows.append((name, "not measured", why(ours if not usable(ours) else theirs, "")))
            return
        assert ours is not None and theirs is not None and ours.median and theirs.median
        if rss:
            ratio, shown = (
                (ours.peak_kb or 0) / (theirs.peak_kb or 1),
                f"{_mb(ours.peak_kb)} vs {_mb(theirs.peak_kb)} MB",
            )
        else:
            ratio, shown = ours.median / theirs.median, f"{_ms(ours.median)} vs {_ms(theirs.median)} ms"
        rows.append((name, "met" if ratio <= most else "missed", f"{ratio:.2f}× ({shown})"))

    for case in "ghi":
        versus(case, "ours", "limit", f"{case}: ladder ≤ 1.1× one decode + the encodes alone", 1.1)
        versus(case, "ours", "sharp", f"{case}: ladder ≤ 0.85× sharp's clone() pipelines", 0.85)
        versus(case, "ours", "sharp", f"{case}: peak RSS ≤ sharp's", 1.0, rss=True)
    for case in "jk":
        versus(case, "ours", "sharp", f"{case}: single output ≤ 1.05× sharp", 1.05)
        versus(case, "ours", "sharp", f"{case}: peak RSS ≤ sharp's", 1.0, rss=True)
    threaded, one = _get(results, "t", "ours"), _get(results, "t", "ours-1")
    if usable(threaded) and usable(one) and threaded is not None and threaded.threads != 1:
        assert one is not None and one.median and threaded.median
        speedup = one.median / threaded.median
        rows.append(
            (
                f"t: ≥ 1.7× faster on {threaded.threads} threads than on one",
                "met" if speedup >= 1.7 else "missed",
                f"{speedup:.2f}× ({_ms(threaded.median)} vs {_ms(one.median)} ms; CPU "
                f"{_ms(statistics.median(threaded.cpu_ms))} vs {_ms(statistics.median(one.cpu_ms))} ms)",
            )
        )
    return rows


def report(
    all_results: list[Result],
    all_cases: dict[str, bench_cases.Case],
    modes: list[str],
    imported: dict[str, Any] | None,
    settings: dict[str, Any],
    facts: dict[str, str],
    sweep: dict[str, Any] | None = None,
) -> str:
    out = [
        "# imagejobs bench: results",
        "",
        f"Run {settings['started']} ({settings['seconds']:.0f} s; load average before/after "
        f"{settings['load_before']} / {settings['load_after']}). Iterations per case: "
        + ", ".join(f"{k} {v}" for k, v in settings["iterations"].items())
        + ", after one unmeasured run each.",
        "",
        "Machine: " + "; ".join(f"{k} {v}" for k, v in facts.items()),
        "",
        "Inputs: "
        + "; ".join(
            f"{spec.description} = {inputs.path(key).stat().st_size / 1e6:.1f} MB"
            for key, spec in inputs.INPUTS.items()
        ),
        "",
        "Times are per run, bytes in memory → encoded bytes in memory, median of the iterations. "
        "CPU ms is user+system time of the worker process during the run. Peak RSS is the worker's "
        "VmHWM after its last run, one process per implementation per case; in brackets its peak before the "
        "first run (runtime + libraries + the input held in memory).",
    ]
    for mode in modes:
        results = [r for r in all_results if r.mode == mode]
        if not results:
            continue
        out += ["", f"## {MODES[mode]}", "", *table(results, all_cases)]
        rows = targets(results, imported if mode == modes[0] else None)
        if rows:
            out += ["", f"Targets ({mode}):", "", "| target | status | by how much |", "|---|---|---|"]
            out += [f"| {name} | {status} | {margin} |" for name, status, margin in rows]
    if sweep is not None:
        out += [
            "",
            "## AVIF encode alone, by effort (the 400×400 of case c, Q50, single-threaded, "
            f"median of {sweep.get('repeats')} after one unmeasured)",
            "",
            *sweep_table(sweep),
        ]
    notes = [f"- {key}: {note}" for key, case in all_cases.items() for note in case.notes]
    if notes:
        out += ["", "## Notes on the cases", "", *notes]
    if imported is not None:
        out += ["", "## Cold import of functions/process/app.py", ""]
        if "median_ms" in imported:
            for key, how in (("lambda", "with the Lambda runtime's environment variables"), ("plain", "without them")):
                row = imported[key]
                out.append(
                    f"- {how}: median {row['median_ms']:.0f} ms (min {row['min_ms']:.0f}, max {row['max_ms']:.0f}) "
                    f"over {imported['runs']} runs; the whole `python -c` process {row['process_median_ms']:.0f} ms"
                )
            out += [
                "",
                "`import app` in a fresh interpreter, layers/common and functions/process on sys.path. Target ≤ 300 ms "
                "(measured with the Lambda variables).",
            ]
            heaviest = imported["heaviest"]
            out += [
                "",
                "Heaviest by their own time (-X importtime, one run, Lambda variables): "
                + ", ".join(f"{name} {ms:.0f} ms" for name, ms in heaviest["self"]),
                "",
                "Own time summed per top-level package (imagejobs per module; -X importtime adds overhead, "
                f"its total here is {heaviest['total'][0][1]:.0f} ms): "
                + ", ".join(f"{name} {ms:.0f} ms" for name, ms in heaviest["packages"]),
            ]
        else:
            out.append(f"failed: {imported.get('error')}")
    return "\n".join(out) + "\n"


def main() -> None:
    started = time.time()
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    all_cases = bench_cases.cases()
    chosen = [c.strip() for c in os.environ.get("BENCH_CASES", ",".join(all_cases)).split(",") if c.strip()]
    modes = [m.strip() for m in os.environ.get("BENCH_MODES", "single,threaded").split(",") if m.strip()]
    unknown = [c for c in chosen if c not in all_cases] + [m for m in modes if m not in MODES]
    if unknown:
        sys.exit(f"unknown case or mode: {', '.join(unknown)} (cases {', '.join(all_cases)}; modes {', '.join(MODES)})")
    override = os.environ.get("BENCH_ITERATIONS")
    iterations = {key: int(override) if override else all_cases[key].iterations for key in chosen}
    print("inputs:", flush=True)
    for key in dict.fromkeys(all_cases[c].input for c in chosen):
        print(f"  {inputs.path(key).name} ({inputs.INPUTS[key].description})", flush=True)
    RESULTS.mkdir(exist_ok=True)
    all_results: list[Result] = []
    with (RESULTS / "workers.log").open("w") as log:
        for mode in modes:
            for key in chosen:
                case = all_cases[key]
                print(f"{mode:8} {key}: {case.title} ({iterations[key]} iterations)", flush=True)
                results = run_case(mode, case, iterations[key], log)
                for result in results:
                    shown = f"{result.status}: {result.message}"
                    if result.median is not None:
                        shown = f"{result.median:.0f} ms"
                    print(f"           {bench_cases.IMPLS[result.impl].label:38} {shown}", flush=True)
                all_results += results
    import_runs = int(os.environ.get("BENCH_IMPORT_RUNS", "9"))
    imported = cold_import(import_runs) if import_runs > 0 else None
    sweep_repeats = int(os.environ.get("BENCH_SWEEP_REPEATS", "3"))
    sweep = avif_sweep(sweep_repeats) if sweep_repeats > 0 else None
    settings = {
        "started": datetime.datetime.fromtimestamp(started, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "seconds": time.time() - started,
        "load_before": load_before,
        "load_after": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "iterations": iterations,
    }
    facts = machine()
    text = report(all_results, {k: all_cases[k] for k in chosen}, modes, imported, settings, facts, sweep)
    (RESULTS / "latest.md").write_text(text)
    (RESULTS / "latest.json").write_text(
        json.dumps(
            {
                "settings": settings,
                "machine": facts,
                "cases": {k: asdict(all_cases[k]) for k in chosen},
                "results": [asdict(r) | {"median": r.median} for r in all_results],
                "cold_import": imported,
                "avif_sweep": sweep,
            },
            indent=1,
        )
    )
    print()
    print(text)
    # What a job costs on AWS at these CPU times, with the requests bench/calls.py counted (bench/cost.py).
    print("\n## What a job costs\n")
    print(cost.report(json.loads((RESULTS / "latest.json").read_text()), json.loads(cost.CALLS.read_text())))


if __name__ == "__main__":
    main()
