"""Cold start where it happens: `import app` of every function from the layers `sam build` makes.

    .venv/bin/python bench/coldstart.py [--build-dir DIR] [--runs 9] [--importtime FUNCTION]

Builds the x86_64 variant (arm64 cannot run here) into a temporary directory, unless --build-dir
names one such a build made. Each function is then imported in a fresh interpreter that sees only
what Lambda's does: its code (/var/task), its layers (/opt/python), the runtime's boto3 (taken from
this venv, nothing else of it) and the standard library; with the variables the runtime sets and
the function's own from template.yaml (resources get dummy names: nothing is called at import).

Three variants of the same build, interleaved run by run so the machine's load falls on all alike:
`unchecked` (what build-layer.sh ships), `checked` (hash-based .pyc that Python checks against
its source) and `none` (no bytecode: what the layers shipped before, compiled on every cold start,
as /opt and /var/task are read-only). Prints the median of --runs `import app` times per function
and variant, in milliseconds of CPU time (the import's own, which the load of a shared machine
inflates far less than its wall time, printed in brackets). A benchmark, not a test: nothing fails.
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import json
import os
import py_compile
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devstack.template import Template  # noqa: E402 (the repository root is on sys.path now)

SAM = ROOT / ".venv-sam" / "bin" / "sam"
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "urllib3", "dateutil", "six")
TARGET_MS = {"ProcessFunction": 250.0}
API_TARGET_MS = 150.0
VARIANTS = ("unchecked", "checked", "none")
PROBE = (
    "import json, sys, time; sys.path[:0] = json.loads(sys.argv[1]); "
    "t, c = time.perf_counter(), time.process_time(); import app; "
    "print((time.perf_counter() - t) * 1000, (time.process_time() - c) * 1000)"
)


def sam_build(build_dir: Path) -> None:
    env = {
        **os.environ,
        "ARCH": "x86_64",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "LAYER_PYTHON": sys.executable,
        "AWS_DEFAULT_REGION": "us-east-1",
        "SAM_CLI_TELEMETRY": "0",
    }
    command = [str(SAM), "build", "--build-dir", str(build_dir), "--parameter-overrides", "Architecture=x86_64"]
    subprocess.run(command, check=True, cwd=ROOT, env=env, capture_output=True)


def runtime_dir(into: Path) -> Path:
    """The runtime's boto3 and what it needs, and only that: links to this venv's copies."""
    into.mkdir()
    for name in RUNTIME_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise SystemExit(f"{name} is not installed in {sys.executable}")
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        (into / source.name).symlink_to(source)
    return into


def variant(build: Path, into: Path, mode: str) -> Path:
    """A copy of the build (hard links) without bytecode, then compiled in `mode` (or not)."""
    shutil.copytree(build, into, copy_function=os.link, ignore=shutil.ignore_patterns("__pycache__"), symlinks=True)
    if mode != "none":
        invalidation = py_compile.PycInvalidationMode[f"{mode.upper()}_HASH"]
        compileall.compile_dir(into, quiet=1, workers=0, invalidation_mode=invalidation)
    return into


def dummy(value: Any, template: Template, key: str) -> str:
    """A variable's value with parameters and mappings resolved; a resource's name made up."""
    if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in template.parameters:
        return template.parameters[value["Ref"]]
    if isinstance(value, dict) and "Fn::FindInMap" in value:
        return str(template.resolve(value))
    if isinstance(value, dict):
        return f"bench-{key.lower().replace('_', '-')}"
    return str(value)


def functions(template: Template, build: Path) -> dict[str, dict[str, Any]]:
    found = {}
    for logical_id in template.resources("AWS::Serverless::Function"):
        properties = template.function_properties(logical_id)
        variables = properties.get("Environment", {}).get("Variables", {})
        found[logical_id] = {
            "task": build / logical_id,
            "layers": [build / layer["Ref"] / "python" for layer in properties.get("Layers", [])],
            "memory": str(properties.get("MemorySize", 128)),
            "variables": {key: dummy(value, template, key) for key, value in variables.items()},
        }
    return found


def lambda_env(logical_id: str, function: dict[str, Any], task: Path) -> dict[str, str]:
    name = f"imagejobs-{logical_id.removesuffix('Function')}"
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": function["memory"],
        "AWS_LAMBDA_LOG_GROUP_NAME": "imagejobs-functions",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]0123456789abcdef",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_SESSION_TOKEN": "bench",
        "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        "_HANDLER": "app.handler",
        "LAMBDA_TASK_ROOT": str(task),
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
        **function["variables"],
    }


def command(paths: list[Path], *flags: str) -> list[str]:
    # -I: no user site, no PYTHON* variables, no script dir; -S: no site-packages (this venv's);
    # -B: nothing written, as on Lambda's read-only /opt and /var/task.
    return [sys.executable, "-I", "-S", "-B", *flags, "-c", PROBE, json.dumps([str(p) for p in paths])]


def sys_path(root: Path, function: dict[str, Any], logical_id: str, runtime: Path) -> list[Path]:
    layers = [root / layer.parent.name / "python" for layer in function["layers"]]
    return [root / logical_id, *layers, runtime]


def importtime(root: Path, logical_id: str, function: dict[str, Any], runtime: Path) -> None:
    """The modules that cost most, own time summed per top-level package (imagejobs per subpackage)."""
    paths = sys_path(root, function, logical_id, runtime)
    done = subprocess.run(
        command(paths, "-X", "importtime"),
        env=lambda_env(logical_id, function, paths[0]),
        capture_output=True,
        text=True,
        check=True,
    )
    packages: dict[str, float] = {}
    for match in re.finditer(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", done.stderr):
        name = match[2]
        top = ".".join(name.split(".")[:2]) if name.startswith(("imagejobs.", "aws_lambda_powertools.")) else name
        top = top.split(".")[0] if not name.startswith(("imagejobs.", "aws_lambda_powertools.")) else top
        packages[top] = packages.get(top, 0.0) + int(match[1]) / 1000
    for name, ms in sorted(packages.items(), key=lambda item: -item[1])[:20]:
        print(f"{ms:8.1f} ms  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", type=Path, help="a `sam build` (x86_64) to use instead of building one")
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--importtime", metavar="FUNCTION", help="one -X importtime of this function (unchecked)")
    args = parser.parse_args()
    template = Template.read("bench")
    with tempfile.TemporaryDirectory(prefix="coldstart-") as scratch:
        work = Path(scratch)
        build = args.build_dir
        if build is None:
            print("sam build (x86_64) …", file=sys.stderr)
            build = work / "build"
            sam_build(build)
        runtime = runtime_dir(work / "runtime")
        found = functions(template, build)
        roots = {mode: variant(build, work / mode, mode) for mode in VARIANTS}
        if args.importtime:
            importtime(roots["unchecked"], args.importtime, found[args.importtime], runtime)
            return
        samples: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for run in range(args.runs + 1):  # the first run fills the page cache and is not counted
            print(f"run {run}/{args.runs}", file=sys.stderr)
            for logical_id, function in found.items():
                for mode, root in roots.items():
                    paths = sys_path(root, function, logical_id, runtime)
                    env = lambda_env(logical_id, function, paths[0])
                    done = subprocess.run(command(paths), env=env, capture_output=True, text=True, check=False)
                    if done.returncode != 0:
                        raise SystemExit(f"{logical_id} ({mode}) failed:\n{done.stderr[-3000:]}")
                    if run:
                        wall, cpu = done.stdout.split()[-2:]
                        samples.setdefault((logical_id, mode), []).append((float(cpu), float(wall)))
    print(f"\n`import app`, median of {args.runs}, CPU ms (wall ms), x86_64 build, Lambda's variables\n")
    print("| function | target (CPU) | unchecked-hash .pyc (shipped) | checked-hash .pyc | no .pyc (before) |")
    print("|---|---|---|---|---|")
    for logical_id in found:
        target = TARGET_MS.get(logical_id, API_TARGET_MS)
        medians = {
            mode: [statistics.median(column) for column in zip(*samples[(logical_id, mode)], strict=True)]
            for mode in VARIANTS
        }
        verdict = "✓" if medians["unchecked"][0] <= target else "✗"
        cells = " | ".join(f"{medians[mode][0]:.0f} ({medians[mode][1]:.0f})" for mode in VARIANTS)
        print(f"| {logical_id.removesuffix('Function')} | ≤ {target:.0f} {verdict} | {cells} |")
    print(f"\nload average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
