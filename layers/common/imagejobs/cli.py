"""`python -m imagejobs process`: the engine on local files, with the JSON of the API's outputs.

    python -m imagejobs process photo.heic --output-spec spec.json -o out/

The spec is one output as in a job's `outputs`, a list of them, or `{"preset": "<name>"}`. They are
rendered as a job renders them (one decode shared by every output; `milliseconds` is the whole) and
written to `<out>/<name>.<extension>`. A JSON report goes to stdout. On any
failure, `{"error": {"code", "message", "details"}}` goes to stderr, never a traceback, with exit
status 1 for the image (the codes of a failed job, `internal` for an unexpected error) and 2 for
the spec or the command line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from pydantic import TypeAdapter, ValidationError

from imagejobs import engine
from imagejobs.deadline import Deadline
from imagejobs.errors import (
    ImageJobsError,
    JobError,
    MalformedRequestError,
    RequestValidationError,
    SourceNotFoundError,
)
from imagejobs.spec import formats, presets, validation
from imagejobs.spec.outputs import Output

# The template's Parameter defaults (SPEC §5); tests/unit/test_cli.py keeps them equal.
MAX_SOURCE_PIXELS = 100_000_000
MAX_OUTPUT_DIMENSION = 16_384

_OUTPUT = TypeAdapter(Output)
_OUTPUTS = TypeAdapter(list[Output])


def parse_spec(spec: Any) -> list[Output]:
    """One output, a list of outputs, or `{"preset": name}`: as the outputs to render."""
    if isinstance(spec, dict) and "preset" in spec:
        return _preset(spec)
    try:
        outputs = _OUTPUTS.validate_python(spec) if isinstance(spec, list) else [_OUTPUT.validate_python(spec)]
    except ValidationError as error:
        found = validation.details(error.errors())
        raise RequestValidationError(validation.summary(found, whole="spec"), details=found) from error
    names = [output.name for output in outputs]
    if len(set(names)) != len(names):
        raise RequestValidationError("output names must be unique", details=[{"path": "name", "message": "repeated"}])
    if any(output.destination is not None for output in outputs):
        message = "is for jobs on the API: this command writes files where -o says"
        raise RequestValidationError(f"destination {message}", details=[{"path": "destination", "message": message}])
    return outputs


def _preset(spec: dict[str, Any]) -> list[Output]:
    name = spec["preset"]
    if set(spec) != {"preset"} or name not in presets.NAMES:
        message = f"give only a preset, one of {', '.join(presets.NAMES)}"
        raise RequestValidationError(f"preset: {message}", details=[{"path": "preset", "message": message}])
    return presets.expand(name)


def _uploads(pairs: Sequence[str]) -> Callable[[str], bytes]:
    """`--upload ID=PATH` as the engine's loader of other uploads (watermarks)."""
    paths: dict[str, Path] = {}
    for pair in pairs:
        upload_id, sep, path = pair.partition("=")
        if not sep or not upload_id or not path:
            raise RequestValidationError(
                f"--upload {pair}: give ID=PATH", details=[{"path": "--upload", "message": pair}]
            )
        paths[upload_id] = Path(path)

    def load(upload_id: str) -> bytes:
        if upload_id not in paths:
            raise SourceNotFoundError(f"upload {upload_id} was not given: add --upload {upload_id}=PATH")
        return _read(paths[upload_id], SourceNotFoundError)

    return load


def _read(path: Path, error: type[ImageJobsError]) -> bytes:
    try:
        return path.read_bytes()
    except OSError as failure:
        raise error(f"{path}: {failure.strerror}") from failure


def _write(path: Path, data: bytes | None) -> None:
    """`data` written to `path`; with no data, `path` made as a folder."""
    try:
        if data is None:
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.write_bytes(data)
    except OSError as failure:
        message = f"{path}: {failure.strerror or failure}"
        raise RequestValidationError(f"--out {message}", details=[{"path": "--out", "message": message}]) from failure


def process(args: argparse.Namespace) -> dict[str, Any]:
    spec_text = sys.stdin.read() if args.output_spec == "-" else _read(Path(args.output_spec), MalformedRequestError)
    try:
        outputs = parse_spec(json.loads(spec_text))
    except json.JSONDecodeError as error:
        raise MalformedRequestError(f"the output spec is not JSON: {error}") from error
    load_upload = _uploads(args.upload)
    data = _read(Path(args.source), SourceNotFoundError)
    limits = engine.Limits(
        max_source_pixels=args.max_pixels,
        max_output_dimension=args.max_dimension,
        max_frames=args.max_frames,
        max_work_units=args.max_work_units,
        max_memory_bytes=args.max_memory * 2**20,
    )
    _write(args.out, None)
    started = time.perf_counter()
    source, rendered = engine.render(
        data, outputs, limits, Deadline.unlimited(), load_upload, pages=args.pages, dpi=args.dpi
    )
    milliseconds = round((time.perf_counter() - started) * 1000)
    written = []
    for result in rendered:  # an output once per page when the source selects several pages
        path = args.out / f"{result.name}.{result.extension}"
        _write(path, result.data)
        written.append(
            {
                "name": result.name,
                "format": result.format,
                "width": result.width,
                "height": result.height,
                "bytes": len(result.data),
                "path": str(path),
            }
        )
    return {
        "source": {
            "path": args.source,
            "bytes": len(data),
            "format": source.format,
            "width": source.width,
            "height": source.height,
        },
        "milliseconds": milliseconds,
        "outputs": written,
    }


def _pages(pages: str) -> str:
    formats.page_ranges(pages)  # a ValueError is argparse's "invalid value"
    return pages


class _Parser(argparse.ArgumentParser):
    """argparse, whose usage errors are the error body too (code `invalid_request`, exit status 2)."""

    def error(self, message: str) -> NoReturn:
        body = {"error": {"code": RequestValidationError.code, "message": f"{self.prog}: {message}", "details": []}}
        print(json.dumps(body), file=sys.stderr)
        raise SystemExit(2)


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = _Parser(prog=prog, description="imagejobs on local files.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = commands.add_parser("process", help="render outputs of an image, as a job would", description=__doc__)
    run.add_argument("source", help="the image")
    run.add_argument(
        "--output-spec", required=True, metavar="FILE", help='one output, a list, or {"preset": …}; - for stdin'
    )
    run.add_argument("-o", "--out", type=Path, default=Path(), metavar="DIR", help="where outputs go (default: .)")
    run.add_argument(
        "--upload", action="append", default=[], metavar="ID=PATH", help="an image a watermark names by upload id"
    )
    run.add_argument("--pages", type=_pages, help="of a PDF or multi-page TIFF: like 1-3,5 (default: the first)")
    run.add_argument("--dpi", type=int, help="to render PDF and SVG sources at")
    run.add_argument("--max-pixels", type=int, default=MAX_SOURCE_PIXELS, help="largest source, in pixels")
    run.add_argument("--max-dimension", type=int, default=MAX_OUTPUT_DIMENSION, help="largest output side, in pixels")
    run.add_argument("--max-frames", type=int, default=engine.Limits.max_frames, help="most animation frames")
    run.add_argument(
        "--max-work-units",
        type=int,
        default=engine.Limits.max_work_units,
        help="most pixels encoded, all pages and outputs",
    )
    run.add_argument(
        "--max-memory",
        type=int,
        default=engine.Limits.max_memory_bytes // 2**20,
        metavar="MB",
        help="most memory a job may use, in MiB",
    )
    return parser


def main(argv: Sequence[str] | None = None, prog: str = "python -m imagejobs") -> int:
    """`prog` names the command in usage and help: the client's `imagejobs process` comes here too."""
    args = _parser(prog).parse_args(argv)
    try:
        report = process(args)
    except ImageJobsError as error:
        _print_error(error.code, error.message, error.details)
        return 1 if isinstance(error, JobError) else 2
    except Exception as error:  # noqa: BLE001 - the command's boundary: a failure is reported as the body says
        _print_error("internal", f"the command failed unexpectedly ({type(error).__name__}: {error})", [])
        return 1
    print(json.dumps(report, indent=2))
    return 0


def _print_error(code: str, message: str, details: list[dict[str, Any]]) -> None:
    print(json.dumps({"error": {"code": code, "message": message, "details": details}}), file=sys.stderr)
