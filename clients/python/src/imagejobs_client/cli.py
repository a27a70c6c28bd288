"""`imagejobs`: the imagejobs API from the command line.

    imagejobs run photo.heic --preset responsive -o out/
    imagejobs run 'shots/*.jpg' --output 'thumb:webp:resize=400x400,cover' -o out/
    imagejobs jobs list | get ID | retry ID | delete ID
    imagejobs batch run 'shots/*.jpg' --preset og-image --zip shots.zip
    imagejobs listen --port 8000
    imagejobs process photo.heic --output-spec spec.json -o out/   # the engine on this machine

The API, key and webhook secret come from --url/--api-key/--secret, IMAGEJOBS_URL, IMAGEJOBS_API_KEY
and IMAGEJOBS_WEBHOOK_SECRET, or the config file (see `imagejobs_client.config`). Exit status: 0
when everything succeeded, 1 when a job failed or the API or storage refused or did not answer,
2 for a command line or a request to fix (the API's details name the field).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import threading
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from datetime import datetime
from functools import partial
from glob import glob
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from imagejobs_client import errors, outputs
from imagejobs_client._version import __version__
from imagejobs_client.client import Client, RunResult, labels
from imagejobs_client.config import load
from imagejobs_client.models import Batch, Job
from imagejobs_client.webhooks import WebhookEvent, WebhookVerifier

_MAGIC = re.compile(r"[*?[]")


class UsageError(ValueError):
    """A command line that cannot run as given."""


# Reading the command line


def _sources(patterns: Sequence[str]) -> list[str]:
    """Files, quoted globs (`'shots/*.jpg'`, `**` for subfolders), URLs and upload ids, in order."""
    found: list[str] = []
    for pattern in patterns:
        if pattern.startswith(("https://", "http://", "upl_")):
            found.append(pattern)
        elif _MAGIC.search(pattern):
            # glob.glob, since Path.glob takes no absolute pattern
            matches = sorted(path for path in glob(pattern, recursive=True) if Path(path).is_file())  # noqa: PTH207
            if not matches:
                raise UsageError(f"{pattern} matches no file")
            found += matches
        elif Path(pattern).is_file():
            found.append(pattern)
        else:
            raise UsageError(f"{pattern}: no such file")
    return found


def _spec(args: argparse.Namespace, client: Client) -> dict[str, Any]:
    """--preset, --output (repeatable: the one-line form or JSON) or --output-spec, as the request's
    `preset` or `outputs`."""
    if args.preset:
        return {"preset": args.preset}
    if args.output_spec:
        text = sys.stdin.read() if args.output_spec == "-" else Path(args.output_spec).read_text()
        try:
            return outputs.spec_from_json(json.loads(text))
        except json.JSONDecodeError as error:
            raise UsageError(f"--output-spec {args.output_spec}: not JSON: {error}") from error
    found = []
    for text in args.output:
        if text.lstrip().startswith("{"):
            try:
                found.append(json.loads(text))
            except json.JSONDecodeError as error:
                raise UsageError(f"--output {text}: not JSON: {error}") from error
        else:
            found.append(outputs.parse_output(text, client.output_options()))
    return {"outputs": found}


def _metadata(pairs: Sequence[str]) -> dict[str, str] | None:
    found = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--metadata {pair}: give KEY=VALUE")
        found[key] = value
    return found or None


def _client(args: argparse.Namespace) -> Client:
    return Client(args.url, args.api_key, config_path=args.config)


# Showing what happened


def _progress() -> Progress:
    """A progress bar on stderr when it is a terminal; nothing otherwise."""
    console = Console(stderr=True)
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal,
        redirect_stdout=False,
        redirect_stderr=False,
    )


def _written(job: Job, files: Mapping[str, Path | str]) -> list[dict[str, Any]]:
    return [
        {
            "name": output.name,
            "format": output.format,
            "width": output.width,
            "height": output.height,
            "bytes": output.bytes,
            "path": str(files[output.name]),
        }
        for output in job.outputs
        if output.name in files
    ]


def _report(source: str, job: Job, files: Mapping[str, Path | str]) -> dict[str, Any]:
    error = {"code": job.error.code, "message": job.error.message} if job.error else None
    return {"source": source, "job_id": job.id, "status": job.status, "outputs": _written(job, files), "error": error}


def _print_reports(reports: list[dict[str, Any]], as_json: bool) -> int:
    """Prints what each job wrote (or why it failed); 1 if any failed."""
    if as_json:
        print(json.dumps({"jobs": reports}, indent=2))
    else:
        for report in reports:
            for written in report["outputs"]:
                size = f"{written['width']}x{written['height']}"
                print(f"{written['path']}\t{written['format']} {size}\t{written['bytes']} bytes")
    failed = [report for report in reports if report["status"] != "succeeded"]
    for report in failed:
        code, message = (report["error"] or {}).get("code"), (report["error"] or {}).get("message")
        print(f"{report['source']}: job {report['job_id']} {report['status']}: {code}: {message}", file=sys.stderr)
    return 1 if failed else 0


# Commands


def run(args: argparse.Namespace) -> int:
    sources = _sources(args.sources)
    names = labels(sources)
    out = Path(args.out)
    folders = [out] if len(sources) == 1 else [out / name for name in names]
    options: dict[str, Any] = {
        "callback_url": args.callback_url,
        "metadata": _metadata(args.metadata),
        "ttl_seconds": args.ttl,
        "pages": args.pages,
        "dpi": args.dpi,
    }
    with _client(args) as client:
        spec = _spec(args, client)

        def one(source: str, folder: Path) -> dict[str, Any]:
            try:
                result: RunResult = client.run(source, out=folder, timeout=args.timeout, **spec, **options)
            except errors.JobFailedError as failure:
                return _report(source, failure.job, {})
            return _report(source, result.job, result.files)

        tasks = [partial(one, source, folder) for source, folder in zip(sources, folders, strict=True)]
        reports = _in_parallel(tasks, args.jobs, "jobs")
    return _print_reports(reports, args.json)


def _in_parallel(tasks: Sequence[Callable[[], dict[str, Any]]], workers: int, description: str) -> list[dict[str, Any]]:
    """The tasks' results in order, run `workers` at a time under a progress bar. The first error
    that is not a failed job cancels what has not started and is raised."""
    results: list[dict[str, Any] | None] = [None] * len(tasks)
    with _progress() as progress, ThreadPoolExecutor(max_workers=workers) as pool:
        bar = progress.add_task(description, total=len(tasks))
        futures: dict[Future[dict[str, Any]], int] = {pool.submit(task): i for i, task in enumerate(tasks)}
        try:
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                progress.advance(bar)
        finally:
            pool.shutdown(cancel_futures=True)  # what has not started, after an error
    return [result for result in results if result is not None]


def batch_run(args: argparse.Namespace) -> int:
    sources = _sources(args.sources)
    names = labels(sources)
    out = Path(args.out) if args.out else None
    with _client(args) as client:
        spec = _spec(args, client)
        with _progress() as progress:
            bar = progress.add_task("jobs", total=len(sources))

            def update(batch: Batch) -> None:
                progress.update(bar, completed=batch.counts.get("succeeded", 0) + batch.counts.get("failed", 0))

            result = client.run_batch(
                sources,
                outputs=spec.get("outputs"),
                preset=spec.get("preset"),
                out=out,
                callback_url=args.callback_url,
                metadata=_metadata(args.metadata),
                timeout=args.timeout,
                concurrency=args.jobs,
                on_update=update,
            )
        print(f"batch {result.batch.id}: {_counts(result.batch)}", file=sys.stderr)
        files: dict[str, dict[str, Path | str]] = {job_id: dict(saved) for job_id, saved in result.files.items()}
        if args.zip:
            named = list(zip(result.jobs, names, strict=True))
            zipped = _zip(client, result.batch.id, named, out, Path(args.zip))
            files = files if out else zipped
    reports = [_report(source, job, files.get(job.id, {})) for source, job in zip(sources, result.jobs, strict=True)]
    return _print_reports(reports, args.json)


def batch_get(args: argparse.Namespace) -> int:
    with _client(args) as client:
        batch = (
            client.wait_for_batch(args.batch_id, timeout=args.timeout) if args.wait else client.get_batch(args.batch_id)
        )
        if not (args.out or args.zip):
            print(json.dumps(batch.raw, indent=2))
            return 0
        jobs = [client.get_job(job.id) for job in batch.jobs]
        files: dict[str, dict[str, Path | str]] = {}
        if args.out:
            for job in jobs:
                if job.status == "succeeded":
                    files[job.id] = dict(client.download_outputs(job, Path(args.out) / job.id))
        if args.zip:
            out = Path(args.out) if args.out else None
            zipped = _zip(client, batch.id, [(job, job.id) for job in jobs], out, Path(args.zip))
            files = files if out else zipped
    return _print_reports([_report(job.id, job, files.get(job.id, {})) for job in jobs], args.json)


def _counts(batch: Batch) -> str:
    return ", ".join(f"{count} {status}" for status, count in batch.counts.items() if count and status != "total")


def _zip(
    client: Client, batch_id: str, named: list[tuple[Job, str]], saved_in: Path | None, target: Path
) -> dict[str, dict[str, Path | str]]:
    """The API's archive of the batch when it builds them; else a ZIP made here of the succeeded jobs'
    outputs, as `<folder>/<name>.<ext>` (taken from `saved_in` when they were saved there). Returns
    where each output is now: the ZIP, or `ZIP:member`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    succeeded = [(job, folder) for job, folder in named if job.status == "succeeded"]
    if client.download_batch_archive(batch_id, target) is not None:
        print(f"{target}: the API's archive of batch {batch_id}", file=sys.stderr)
        return {job.id: {output.name: target for output in job.outputs} for job, _ in succeeded}
    where: dict[str, dict[str, Path | str]] = {}
    with _folder(saved_in) as root, zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as archive:  # images: compressed
        for job, folder in succeeded:
            where[job.id] = {}
            for output in job.outputs:
                member = f"{folder}/{output.filename}"
                path = root / member
                if not path.is_file():
                    path.parent.mkdir(parents=True, exist_ok=True)
                    client.download(output, path)
                archive.write(path, member)
                where[job.id][output.name] = f"{target}:{member}"
    count = sum(len(outputs) for outputs in where.values())
    print(f"{target}: {count} outputs, zipped here (this API does not build archives)", file=sys.stderr)
    return where


@contextmanager
def _folder(path: Path | None) -> Iterator[Path]:
    """`path`, or a scratch folder for the time of the block."""
    if path is not None:
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="imagejobs-") as scratch:
        yield Path(scratch)


def jobs_list(args: argparse.Namespace) -> int:
    with _client(args) as client:
        if args.all:
            found = list(client.iter_jobs(status=args.status, page_size=args.limit))
            cursor = None
        else:
            page = client.list_jobs(status=args.status, limit=args.limit)
            found, cursor = list(page.jobs), page.next_cursor
    if args.json:
        print(json.dumps({"jobs": [job.raw for job in found], "next_cursor": cursor}, indent=2))
        return 0
    for job in found:
        created = job.created_at.isoformat(timespec="seconds") if job.created_at else ""
        detail = f"{job.error.code}: {job.error.message}" if job.error else f"{len(job.outputs)} outputs"
        print(f"{job.id}\t{job.status}\t{created}\t{detail}")
    if cursor:
        print(f"more: imagejobs jobs list --all, or the API's cursor {cursor}", file=sys.stderr)
    return 0


def jobs_get(args: argparse.Namespace) -> int:
    with _client(args) as client:
        job = client.wait_for_job(args.job_id, timeout=args.timeout) if args.wait else client.get_job(args.job_id)
        if args.out and job.status == "succeeded":
            return _print_reports([_report(job.id, job, client.download_outputs(job, args.out))], as_json=False)
    print(json.dumps(job.raw, indent=2))
    return 1 if job.status == "failed" else 0


def jobs_retry(args: argparse.Namespace) -> int:
    with _client(args) as client:
        job = client.retry_job(args.job_id)
        if args.wait:
            job = client.wait_for_job(job.id, timeout=args.timeout)
    print(json.dumps(job.raw, indent=2))
    return 1 if job.status == "failed" else 0


def jobs_delete(args: argparse.Namespace) -> int:
    with _client(args) as client:
        client.delete_job(args.job_id)
    print(f"deleted {args.job_id}", file=sys.stderr)
    return 0


def listen(args: argparse.Namespace) -> int:
    from imagejobs_client import listen as receiver  # noqa: PLC0415 (only this command serves)

    secret = load(webhook_secret=args.secret, path=args.config).webhook_secret
    if not secret:
        raise UsageError("give the whsec_ secret: --secret, IMAGEJOBS_WEBHOOK_SECRET or the config file")
    done = threading.Event()
    received = 0
    lock = threading.Lock()

    def on_event(event: WebhookEvent) -> None:
        nonlocal received
        with lock:
            print(_event_line(event, as_json=args.json), flush=True)
            received += 1
            if args.count and received >= args.count:
                done.set()

    def on_refused(reason: str) -> None:
        print(f"refused: {reason}", file=sys.stderr, flush=True)

    server = receiver.serve(WebhookVerifier(secret), args.host, args.port, on_event, on_refused)
    address = f"http://{args.host}:{server.server_port}/"
    print(f"listening on {address} (a callback_url); Ctrl-C stops", file=sys.stderr, flush=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        done.wait()
    finally:
        server.shutdown()
        server.server_close()
    return 0


def _event_line(event: WebhookEvent, *, as_json: bool) -> str:
    if as_json:
        when = event.timestamp.isoformat()
        return json.dumps({"webhook_id": event.id, "timestamp": when, "type": event.type, "data": event.data})
    data = event.data
    if event.type.startswith("job."):
        job = event.job
        detail = (
            f"{job.error.code}: {job.error.message}"
            if job.error
            else ", ".join(f"{o.name} {o.format} {o.width}x{o.height}" for o in job.outputs)
        )
    elif event.type.startswith("batch."):
        detail = _counts(event.batch)
    else:
        detail = ""
    stamp = datetime.fromtimestamp(event.timestamp.timestamp()).isoformat(timespec="seconds")
    return f"{stamp}\t{event.type}\t{data.get('id')}\t{data.get('status')}\t{detail}"


def process(argv: Sequence[str]) -> int:
    """`imagejobs process`: the engine of the server package, on local files, when it is installed."""
    try:
        from imagejobs import cli as engine  # noqa: PLC0415 (the server package is optional)
    except ImportError as error:
        print(
            "imagejobs process runs the image engine on this machine, which comes with the server package:\n"
            "  pip install ./clients/python .   # at the root of the imagejobs repository (it brings the codecs)\n"
            f"({error})",
            file=sys.stderr,
        )
        return 2
    return engine.main(["process", *argv], prog="imagejobs")


# The parser


def _parser() -> argparse.ArgumentParser:
    connection = argparse.ArgumentParser(add_help=False)
    connection.add_argument("--url", help="the API, as https://…/v1 (IMAGEJOBS_URL; default: the local stack)")
    connection.add_argument("--api-key", help="(IMAGEJOBS_API_KEY)")
    connection.add_argument("--config", metavar="FILE", help="(IMAGEJOBS_CONFIG; ~/.config/imagejobs/config.toml)")

    spec = argparse.ArgumentParser(add_help=False)
    chosen = spec.add_mutually_exclusive_group(required=True)
    chosen.add_argument("--preset", help="a preset's outputs (imagejobs presets are listed by GET /v1/presets)")
    chosen.add_argument(
        "--output",
        action="append",
        metavar="SPEC",
        help="NAME:FORMAT[:STEP]..., as thumb:webp:resize=400x400,cover:quality=80, or an output's JSON; repeatable",
    )
    chosen.add_argument(
        "--output-spec", metavar="FILE", help='one output, a list, or {"preset": …} as JSON; - for stdin'
    )
    spec.add_argument("--callback-url", help="where the API POSTs signed job.* (or batch.completed) events")
    spec.add_argument("--metadata", action="append", default=[], metavar="KEY=VALUE", help="echoed in jobs and events")
    spec.add_argument("-j", "--jobs", type=int, default=4, metavar="N", help="uploads and downloads at once (4)")
    spec.add_argument("--timeout", type=float, default=600, metavar="SECONDS", help="to wait for the jobs (600)")
    spec.add_argument("--json", action="store_true", help="print a JSON report")

    parser = argparse.ArgumentParser(
        prog="imagejobs", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"imagejobs-client {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run_parser = commands.add_parser(
        "run", parents=[connection, spec], help="upload images, process them, save the outputs"
    )
    run_parser.add_argument("sources", nargs="+", metavar="SOURCE", help="files, quoted globs, https URLs, upl_ ids")
    run_parser.add_argument(
        "-o", "--out", default=".", metavar="DIR", help="outputs go to DIR/<name>.<ext>, DIR/<stem>/… for several"
    )
    run_parser.add_argument("--ttl", type=int, metavar="SECONDS", help="how long the results stay downloadable")
    run_parser.add_argument("--pages", help="of a PDF or multi-page TIFF: like 1-3,5")
    run_parser.add_argument("--dpi", type=int, help="to render PDF and SVG sources at")
    run_parser.set_defaults(handler=run)

    _jobs_parsers(commands, connection)
    _batch_parsers(commands, connection, spec)
    receiver = commands.add_parser("listen", help="receive callbacks here: verify and print them")
    receiver.add_argument("--host", default="127.0.0.1", help="(127.0.0.1)")
    receiver.add_argument("--port", type=int, default=8000, help="(8000; 0 picks a free one)")
    receiver.add_argument("--secret", help="the whsec_ secret (IMAGEJOBS_WEBHOOK_SECRET)")
    receiver.add_argument("--config", metavar="FILE", help="(IMAGEJOBS_CONFIG)")
    receiver.add_argument("--count", type=int, metavar="N", help="stop after N events")
    receiver.add_argument("--json", action="store_true", help="one JSON event per line")
    receiver.set_defaults(handler=listen)

    commands.add_parser("process", add_help=False, help="the engine on local files, no API (needs the server package)")
    return parser


def _jobs_parsers(commands: Any, connection: argparse.ArgumentParser) -> None:
    jobs = commands.add_parser("jobs", help="list, get, retry and delete jobs").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    listing = jobs.add_parser("list", parents=[connection], help="the jobs, newest first")
    listing.add_argument("--status", choices=["awaiting_upload", "queued", "processing", "succeeded", "failed"])
    listing.add_argument("--limit", type=int, help="jobs per page")
    listing.add_argument("--all", action="store_true", help="every page")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=jobs_list)
    for name, handler, about in (
        ("get", jobs_get, "a job's document (-o DIR: save its outputs)"),
        ("retry", jobs_retry, "run a failed job again"),
        ("delete", jobs_delete, "remove a job and its images now"),
    ):
        action = jobs.add_parser(name, parents=[connection], help=about)
        action.add_argument("job_id", metavar="JOB_ID")
        if name != "delete":
            action.add_argument("--wait", action="store_true", help="until the job has ended")
            action.add_argument("--timeout", type=float, default=600, metavar="SECONDS")
        if name == "get":
            action.add_argument("-o", "--out", metavar="DIR", help="save the outputs in DIR")
        action.set_defaults(handler=handler)


def _batch_parsers(commands: Any, connection: argparse.ArgumentParser, spec: argparse.ArgumentParser) -> None:
    batch = commands.add_parser("batch", help="many jobs as one batch").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    batch_runner = batch.add_parser("run", parents=[connection, spec], help="upload images, batch them, save outputs")
    batch_runner.add_argument("sources", nargs="+", metavar="SOURCE", help="files, quoted globs, https URLs, upl_ ids")
    batch_runner.add_argument("-o", "--out", metavar="DIR", help="outputs go to DIR/<stem>/<name>.<ext>")
    batch_runner.add_argument("--zip", metavar="FILE", help="also a ZIP of the outputs")
    batch_runner.set_defaults(handler=batch_run)
    getter = batch.add_parser("get", parents=[connection], help="a batch's status (-o, --zip: its outputs)")
    getter.add_argument("batch_id", metavar="BATCH_ID")
    getter.add_argument("--wait", action="store_true", help="until every job has ended")
    getter.add_argument("--timeout", type=float, default=600, metavar="SECONDS")
    getter.add_argument("-o", "--out", metavar="DIR", help="save the outputs in DIR/<job id>/")
    getter.add_argument("--zip", metavar="FILE", help="a ZIP of the outputs")
    getter.add_argument("--json", action="store_true")
    getter.set_defaults(handler=batch_get)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["process"]:
        return process(arguments[1:])
    args = _parser().parse_args(arguments)
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        return 130
    except (errors.InvalidRequestError, ValueError) as error:  # UsageError, ConfigError, a bad argument
        print(f"imagejobs: {error}", file=sys.stderr)
        return 2
    except (errors.ImageJobsError, OSError) as error:
        print(f"imagejobs: {error}", file=sys.stderr)
        return 1
