"""Cold start where it happens: `import app` of every function from the layers `sam build` makes.

    .venv/bin/python bench/coldstart.py [--build-dir DIR] [--baseline DIR] [--runs 9] [--variants unchecked]
    .venv/bin/python bench/coldstart.py --importtime FUNCTION [--build-dir DIR]

Builds the x86_64 variant (arm64 cannot run here) into a temporary directory, unless --build-dir
names one such a build made. Each function is then imported in a fresh interpreter that sees only
what Lambda's does: its code (/var/task), its layers (/opt/python), the runtime's boto3 (taken from
this venv, nothing else of it) and the standard library; with the variables the runtime sets and
the function's own from template.yaml (resources get dummy names: nothing is called at import).

Measured per function, median of --runs, in milliseconds of CPU time (the process's own, which the
load of a shared machine inflates far less than its wall time, printed in brackets):
- `init`: `import app`, what Lambda's init phase runs (the target's measure);
- `init + first request`: `import app`, then what its first request imports and makes: the X-Ray SDK
  (the first traced invocation's) and the AWS clients (`imagejobs.store.aws`: the DynamoDB table
  where its policies grant DynamoDB, the S3 client where they grant S3), which import boto3 and
  botocore and load their service models; and every pydantic model (and module-level TypeAdapter)
  of the service that the function imported, built (they are built on first use: an upper bound,
  since a request builds only those it uses): work deferred from init to the first request, shown
  so that moving it is not mistaken for removing it.
Variants of the bytecode, interleaved run by run so the machine's load falls on all alike:
`unchecked` (what build-layer.sh ships), `checked` (hash-based .pyc that Python checks against its
source) and `none` (no bytecode). --baseline names a build of another tree (e.g. main's, made with
`sam build --build-dir`), measured the same way in the same runs. Then the floors: what parts of
an import cost alone, from the same layers. A benchmark, not a test: nothing fails.
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
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "urllib3", "dateutil", "six", "snapshot_restore_py")
TARGET_MS = {"ProcessFunction": 250.0}
API_TARGET_MS = 150.0  # a function that answers API requests, and the authorizer in front of them
VARIANTS = ("unchecked", "checked", "none")
PROBE = (
    "import json, sys, time; sys.path[:0] = json.loads(sys.argv[1]); {setup}"
    "t, c = time.perf_counter(), time.process_time(); {statement}; "
    "print((time.perf_counter() - t) * 1000, (time.process_time() - c) * 1000)"
)
# What a part of an init costs alone, from the layers of the function named (an API function's).
FLOORS = {
    "`import boto3`": "import boto3",
    "`import pydantic`": "import pydantic",
    "Powertools `Logger()`": "from aws_lambda_powertools import Logger; Logger()",
    "Powertools `Tracer(auto_patch=False)` (imports the X-Ray SDK)": (
        "from aws_lambda_powertools import Tracer; Tracer(auto_patch=False)"
    ),
    "`import pydantic.main` (what a model needs)": "import pydantic.main",
    "Powertools' `Logger()` and `import pydantic.main`: every function's floor": (
        "from aws_lambda_powertools import Logger; Logger(); import pydantic.main"
    ),
    "Powertools' event data classes (any one imports all)": "import aws_lambda_powertools.utilities.data_classes",
    "Powertools' event handler package (every resolver, AppSync's with asyncio, the data classes)": (
        "import aws_lambda_powertools.event_handler"
    ),
    "Powertools' event handler with its validation (`openapi.params`, pydantic)": (
        "import aws_lambda_powertools.event_handler.openapi.params"
    ),
    "Powertools' batch utility (the queue functions' before imagejobs.batch_response)": (
        "import aws_lambda_powertools.utilities.batch"
    ),
}
FLOOR_FUNCTION = "GetJobFunction"
# SnapStart (EnableSnapStart): the init and the hooks before the snapshot ran when the version was
# published (untimed here); a restored environment runs the hooks after the restore, then its first request.
SNAPSHOT = (
    "import app, snapshot_restore_py as hooks; [f(*a, **k) for f, a, k in reversed(hooks.get_before_snapshot())]; "
)
RESTORED = "[f(*a, **k) for f, a, k in hooks.get_after_restore()]"
# Builds every model (and module-level TypeAdapter) of imagejobs imported so far that is not built yet
# (imagejobs.spec.model: they are built on first use).
BUILD_MODELS = (
    "import pydantic; "
    "[v.model_rebuild() if isinstance(v, type) else v.rebuild() "
    "for m in list(sys.modules.values()) if getattr(m, '__name__', '').startswith('imagejobs') "
    "for v in list(vars(m).values()) "
    "if (isinstance(v, type) and issubclass(v, pydantic.BaseModel) and v.__module__.startswith('imagejobs') "
    "and not v.__pydantic_complete__) "
    "or (isinstance(v, pydantic.TypeAdapter) and not v.pydantic_complete)]"
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
            "snapstart": "SnapStart" in properties,
            "target": TARGET_MS.get(logical_id, API_TARGET_MS if serves_api(template, logical_id) else None),
        }
    return found


def serves_api(template: Template, logical_id: str) -> bool:
    """Whether an API request waits for this function's cold start: it answers one, or authorizes it."""
    events = template.function_properties(logical_id).get("Events", {}).values()
    authorizers = [
        authorizer.get("FunctionArn")
        for api in template.resources("AWS::Serverless::Api")
        for authorizer in template.body["Resources"][api]["Properties"].get("Auth", {}).get("Authorizers", {}).values()
    ]
    return any(event.get("Type") == "Api" for event in events) or {"Ref": f"{logical_id}.Alias"} in authorizers


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


def command(paths: list[Path], *flags: str, statement: str = "import app", setup: str = "") -> list[str]:
    # -I: no user site, no PYTHON* variables, no script dir; -S: no site-packages (this venv's);
    # -B: nothing written, as on Lambda's read-only /opt and /var/task.
    probe = PROBE.format(statement=statement, setup=setup)
    return [sys.executable, "-I", "-S", "-B", *flags, "-c", probe, json.dumps([str(p) for p in paths])]


def first_clients(template: Template, logical_id: str) -> str:
    """`import app`, then the clients the function's first request makes (by the services its policies grant)."""
    return "; ".join(["import app", first_request(template, logical_id)])


def first_request(template: Template, logical_id: str) -> str:
    """What the function's first request imports and makes, its code imported."""
    policies = template.function_properties(logical_id).get("Policies", [])
    names = " ".join(name for entry in policies if isinstance(entry, dict) for name in entry)
    made = []
    if "DynamoDB" in names:
        made.append("aws.table('bench-table')")
    if "S3" in names:
        made.append("aws.client('s3')")
    # The X-Ray SDK: the first traced invocation imports it (imagejobs.observability), where tracing is on.
    return "; ".join(["import aws_xray_sdk.core", "from imagejobs.store import aws", *made, BUILD_MODELS])


def probe(statement: str, paths: list[Path], template: Template, logical_id: str) -> list[str]:
    """The command that measures a column: `init`, `clients` (init + first request) or `restored` (SnapStart)."""
    if statement == "restored":
        return command(paths, statement=f"{RESTORED}; {first_request(template, logical_id)}", setup=SNAPSHOT)
    return command(paths, statement=first_clients(template, logical_id) if statement == "clients" else "import app")


def sys_path(root: Path, function: dict[str, Any], logical_id: str, runtime: Path) -> list[Path]:
    layers = [root / layer.parent.name / "python" for layer in function["layers"]]
    return [root / logical_id, *layers, runtime]


def importtime(root: Path, logical_id: str, function: dict[str, Any], runtime: Path, *, clients: bool = False) -> None:
    """The modules that cost most, own time summed per top-level package (imagejobs per subpackage)."""
    paths = sys_path(root, function, logical_id, runtime)
    done = subprocess.run(
        command(
            paths,
            "-X",
            "importtime",
            statement=first_clients(Template.read("bench"), logical_id) if clients else "import app",
        ),
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


def measure(command_line: list[str], env: dict[str, str], what: str) -> tuple[float, float]:
    """(CPU ms, wall ms) of one probe."""
    done = subprocess.run(command_line, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{what} failed:\n{done.stderr[-3000:]}")
    wall, cpu = done.stdout.split()[-2:]
    return float(cpu), float(wall)


def median_cell(samples: list[tuple[float, float]]) -> str:
    cpu, wall = (statistics.median(column) for column in zip(*samples, strict=True))
    return f"{cpu:.0f} ({wall:.0f})"


LABELS = {"unchecked": "", "checked": "checked .pyc: ", "none": "no .pyc: ", "baseline": "before: "}


def report(
    found: dict[str, dict[str, Any]],
    roots: dict[str, Path],
    variants: list[str],
    *,
    samples: dict[tuple[str, str, str], list[tuple[float, float]]],
    floors: dict[str, list[tuple[float, float]]],
    runs: int,
) -> str:
    heads = [h for mode in roots for h in (f"{LABELS[mode]}init", f"{LABELS[mode]}init + first request")]
    heads.append("SnapStart: restored + first request")
    out = [
        f"`import app` from the x86_64 build, Lambda's variables: median of {runs}, CPU ms (wall ms); "
        f"load average at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)",
        "",
        "| function | target (CPU) | " + " | ".join(heads) + " |",
        "|---|---|" + "--:|" * len(heads),
    ]
    for logical_id in found:
        target = found[logical_id]["target"]
        init_cpu = statistics.median(cpu for cpu, _ in samples[(logical_id, variants[0], "init")])
        verdict = "—" if target is None else f"≤ {target:.0f} {'✓' if init_cpu <= target else '✗'}"
        cells = " | ".join(
            [
                *(median_cell(samples[(logical_id, mode, s)]) for mode in roots for s in ("init", "clients")),
                median_cell(samples[(logical_id, variants[0], "restored")]) if found[logical_id]["snapstart"] else "—",
            ]
        )
        out.append(f"| {logical_id.removesuffix('Function')} | {verdict} | {cells} |")
    out += [
        "",
        f"Floors: each alone in a fresh interpreter, from {FLOOR_FUNCTION.removesuffix('Function')}'s layers:",
        "",
        "| what | CPU ms (wall ms) |",
        "|---|--:|",
        *(f"| {name} | {median_cell(sampled)} |" for name, sampled in floors.items()),
    ]
    return "\n".join(out)


def write(text: str) -> None:
    """The tables between the `<!-- coldstart -->` markers of bench/README.md and README.md."""
    for path in (ROOT / "bench" / "README.md", ROOT / "README.md"):
        content = path.read_text()
        pattern = re.compile(r"(<!-- coldstart -->\n).*?(<!-- /coldstart -->)", re.S)
        if not pattern.search(content):
            raise SystemExit(f"{path} has no <!-- coldstart --> … <!-- /coldstart --> markers")
        path.write_text(pattern.sub(lambda m: m[1] + text + "\n" + m[2], content))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", type=Path, help="a `sam build` (x86_64) to use instead of building one")
    parser.add_argument("--baseline", type=Path, help="a `sam build` (x86_64) of another tree, measured alike")
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--variants", default="unchecked", help=f"of {','.join(VARIANTS)} (default: unchecked)")
    parser.add_argument("--importtime", metavar="FUNCTION", help="one -X importtime of this function (unchecked)")
    parser.add_argument("--clients", action="store_true", help="with --importtime: and its first request's clients")
    parser.add_argument("--write", action="store_true", help="the tables into bench/README.md and README.md")
    args = parser.parse_args()
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    if set(variants) - set(VARIANTS):
        raise SystemExit(f"--variants: of {', '.join(VARIANTS)}")
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
        if args.importtime:
            root = variant(build, work / "unchecked", "unchecked")
            importtime(root, args.importtime, found[args.importtime], runtime, clients=args.clients)
            return
        roots = {mode: variant(build, work / mode, mode) for mode in variants}
        if args.baseline:
            roots["baseline"] = variant(args.baseline, work / "baseline", "unchecked")
        columns = [(mode, statement) for mode in roots for statement in ("init", "clients")]
        columns.append((variants[0], "restored"))
        samples: dict[tuple[str, str, str], list[tuple[float, float]]] = {}
        floors: dict[str, list[tuple[float, float]]] = {}
        floor_function = found[FLOOR_FUNCTION]
        floor_paths = sys_path(roots[variants[0]], floor_function, FLOOR_FUNCTION, runtime)
        floor_env = lambda_env(FLOOR_FUNCTION, floor_function, floor_paths[0])
        for run in range(args.runs + 1):  # the first run fills the page cache and is not counted
            print(f"run {run}/{args.runs}", file=sys.stderr)
            for logical_id, function in found.items():
                for mode, statement in columns:
                    if statement == "restored" and not function["snapstart"]:
                        continue
                    paths = sys_path(roots[mode], function, logical_id, runtime)
                    env = lambda_env(logical_id, function, paths[0])
                    sample = measure(
                        probe(statement, paths, template, logical_id), env, f"{logical_id} ({mode}, {statement})"
                    )
                    if run:
                        samples.setdefault((logical_id, mode, statement), []).append(sample)
            for name, statement in FLOORS.items():
                sample = measure(command(floor_paths, statement=statement), floor_env, name)
                if run:
                    floors.setdefault(name, []).append(sample)
    text = report(found, roots, variants, samples=samples, floors=floors, runs=args.runs)
    print(f"\n{text}")
    if args.write:
        write(text)


if __name__ == "__main__":
    main()
