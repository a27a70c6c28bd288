"""What a job costs on AWS, per million images: the bench's CPU times priced at Lambda's arm64 rates,
plus the requests a job makes (counted by bench/calls.py), at us-east-1 list prices.

    .venv/bin/python bench/cost.py [--results bench/results/latest.json] [--calls bench/calls.json] [--write]

Reads the bench's results (`make bench` writes them) and the counted calls; prints, for each case
the bench ran, the cost of a million such jobs with the process function at 1024, 1769 and 3008 MB,
then what one job of case a pays for, line by line. --write puts the tables in bench/README.md and
README.md (between their `<!-- cost -->` markers). `make bench` prints them at its end.

The model, and what it assumes:
- A job is what bench/calls.py did: an upload form, the upload, the job (one output), its callback,
  one read of the job, one download. Every function's invocations, its requests to S3, SQS, DynamoDB
  and EventBridge, and Lambda's event source mappings' SQS requests are counted from that run (on
  warm instances: a cold instance's extra calls, e.g. the secret it reads once, are not per job).
- The process function's time for a job = the engine's render (the bench's CPU time for the case,
  median, our engine) + the rest of its handler (its thread's CPU time in calls.py, on case a's
  input) + the time it waits on AWS (below). Lambda gives a function memory/1769 MB of a vCPU, so
  CPU-bound work takes cpu / min(1, memory/1769) single-threaded; threaded (the bench's threaded
  mode), cpu / min(memory/1769, the parallelism the bench measured, cpu/wall, at most this machine's
  cores). Every other function runs at its template memory on its measured CPU time, scaled alike.
- Waiting on AWS is not measured here (no AWS account: moto answers in-process): WAIT_MS assumes a
  typical in-region latency per request, and S3_MB_S a transfer rate for the source's bytes.
- CPU times are this x86_64 machine's (Ice Lake); the functions run on arm64 (Graviton), where
  libvips' codecs may be faster or slower per core: the cost of compute scales with that ratio,
  the request prices do not. API Gateway (a REST API request, $3.50 per million, 3 per job here),
  CloudWatch Logs, X-Ray traces and data transfer out are outside the target's definition and
  shown apart, or not at all (logs, traces, transfer: they depend on settings and traffic).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

from devstack.template import Template  # noqa: E402

# us-east-1 list prices, from the providers' pricing pages (aws.amazon.com/<service>/pricing), as
# published in 2025 and unchanged since as far as we know (2026-12-02; not re-read live: this
# machine has no internet). Per request, in dollars.
PRICES_AS_OF = "2025 list prices (aws.amazon.com/lambda|s3|sqs|dynamodb|eventbridge|api-gateway/pricing)"
LAMBDA_ARM_GB_SECOND = 0.0000133334  # first 7.5 billion GB-s a month
LAMBDA_REQUEST = 0.20 / 1e6
S3_PUT = 0.005 / 1000  # PUT, COPY, POST, LIST
S3_GET = 0.0004 / 1000  # GET and every other request
SQS_REQUEST = 0.40 / 1e6  # standard queue, per 64 KB chunk (every message here is smaller)
DYNAMODB_WRITE_UNIT = 0.625 / 1e6  # on-demand, since the cut of November 2024
DYNAMODB_READ_UNIT = 0.125 / 1e6
EVENTBRIDGE_EVENT = 1.00 / 1e6  # custom events, per 64 KB chunk
API_GATEWAY_REST = 3.50 / 1e6  # first 333 million a month
TARGET_PER_MILLION = 2.0  # issue 11: a 12 MP JPEG → 800 w WebP, everything included
TARGET_CASE = "a"

# Assumed, not measured (see the docstring): ms a function waits per request, and S3's transfer rate.
WAIT_MS = {"dynamodb": 6.0, "sqs": 10.0, "events": 15.0, "s3": 25.0, "secretsmanager": 20.0}
S3_MB_S = 90.0
VCPU_MB = 1769  # Lambda: one vCPU's worth of CPU time per 1,769 MB
MEMORIES = (1024, 1769, 3008)
STEADY = "next job (warm instances)"
CALLS = BENCH / "calls.json"  # bench/calls.py writes it; committed, since counting needs the local stack


@dataclass
class Bill:
    """One million jobs' cost, by line."""

    lines: dict[str, float]

    @property
    def total(self) -> float:
        return sum(self.lines.values())


def request_price(row: dict[str, Any]) -> float:
    """The price of one row of counted requests (all of them)."""
    service, operation, count = row["service"], row["operation"], row["count"]
    if service == "s3":
        return count * (S3_PUT if operation.startswith(("Put", "Post", "Copy", "List")) else S3_GET)
    if service == "sqs":
        return count * SQS_REQUEST
    if service == "dynamodb":
        units = row["capacity_units"]
        write = operation in ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem")
        return units * (DYNAMODB_WRITE_UNIT if write else DYNAMODB_READ_UNIT)
    if service == "eventbridge":
        return count * EVENTBRIDGE_EVENT
    if service == "secrets-manager":
        return count * 0.05 / 10_000
    raise SystemExit(f"bench/cost.py has no price for {service}.{operation}")


def waits_ms(rows: Iterable[dict[str, Any]], function: str, input_bytes: int) -> float:
    """What `function` waits on AWS per job (assumed latencies; the source's bytes for the process function)."""
    waited = 0.0
    for row in rows:
        if row["kind"] == "function" and row["by"] == function:
            service = {"eventbridge": "events", "secrets-manager": "secretsmanager"}.get(row["service"], row["service"])
            waited += row["count"] * WAIT_MS[service]
            if service == "s3" and row["operation"] == "GetObject":
                waited += row["count"] * input_bytes / (S3_MB_S * 1e6) * 1000
    return waited


def share(memory: int) -> float:
    return memory / VCPU_MB


def gb_seconds(ms: float, memory: int) -> float:
    return ms / 1000 * memory / 1024


def ours(results: dict[str, Any], case: str, mode: str) -> dict[str, Any] | None:
    for result in results["results"]:
        if (result["case"], result["impl"], result["mode"]) == (case, "ours", mode) and result["cpu_ms"]:
            return dict(result)
    return None


def process_ms(render: dict[str, Any], mode: str, handler_cpu: float, waited: float, memory: int) -> float:
    """The process function's billed ms for a job at `memory`."""
    cpu = statistics.median(render["cpu_ms"])
    rest = handler_cpu / min(1.0, share(memory)) + waited
    if mode == "single":
        return (cpu / min(1.0, share(memory))) + rest
    parallel = cpu / statistics.median(render["ms"])  # the speed-up threads gave on this machine
    return cpu / min(share(memory), max(parallel, 1.0)) + rest


def add(lines: dict[str, float], name: str, dollars: float) -> None:
    lines[name] = lines.get(name, 0.0) + dollars


def bill(results: dict[str, Any], calls: dict[str, Any], case: str, mode: str, memory: int) -> Bill | None:
    """A million jobs of `case`, the process function at `memory`, rendering in `mode`."""
    render = ours(results, case, mode)
    if render is None:
        return None
    job = calls["jobs"][STEADY]
    rows, functions = job["requests"], job["functions"]
    template = Template.read("bench")
    lines: dict[str, float] = {}
    for function, timed in functions.items():
        waited = waits_ms(rows, function, calls["input_bytes"])
        if function == "ProcessFunction":
            # The job's invocation is its largest; the others (the upload's notification) are as measured.
            job_ms = process_ms(render, mode, max(timed["cpu_ms"]), waited, memory)
            other_ms = sum(cpu / min(1.0, share(memory)) for cpu in sorted(timed["cpu_ms"])[:-1])
            dollars = gb_seconds(job_ms + other_ms, memory) * LAMBDA_ARM_GB_SECOND
            add(lines, "Lambda: the process function's time", dollars * 1e6)
        else:
            function_memory = int(template.function_properties(function).get("MemorySize", 128))
            ms = sum(timed["cpu_ms"]) / min(1.0, share(function_memory)) + waited
            add(
                lines, "Lambda: the other functions' time", gb_seconds(ms, function_memory) * LAMBDA_ARM_GB_SECOND * 1e6
            )
        add(lines, "Lambda: requests", timed["invocations"] * LAMBDA_REQUEST * 1e6)
    for row in rows:
        name = {"s3": "S3", "sqs": "SQS", "dynamodb": "DynamoDB", "eventbridge": "EventBridge"}.get(
            row["service"], row["service"]
        )
        add(lines, f"{name} requests", request_price(row) * 1e6)
    return Bill(lines)


def api_requests(calls: dict[str, Any]) -> int:
    """The API's requests in a job (each one invocation of the authorizer)."""
    return int(calls["jobs"][STEADY]["functions"].get("AuthorizerFunction", {}).get("invocations", 0))


def case_table(results: dict[str, Any], calls: dict[str, Any]) -> list[str]:
    modes = [m for m in ("single", "threaded") if any(r["mode"] == m for r in results["results"])]
    heads = [f"{memory} MB {mode}" for memory in MEMORIES for mode in modes]
    out = [
        "| case | ours: CPU ms (single) | " + " | ".join(heads) + " |",
        "|---|--:|" + "--:|" * len(heads),
    ]
    for key, case in results["cases"].items():
        single = ours(results, key, "single")
        cpu = f"{statistics.median(single['cpu_ms']):.0f}" if single else "n/a"
        cells = []
        for memory in MEMORIES:
            for mode in modes:
                found = bill(results, calls, key, mode, memory)
                cells.append(f"${found.total:.2f}" if found else "n/a")
        out.append(f"| **{key}** {case['title']} | {cpu} | " + " | ".join(cells) + " |")
    return out


def lines_table(results: dict[str, Any], calls: dict[str, Any], mode: str = "single") -> list[str]:
    bills = {memory: bill(results, calls, TARGET_CASE, mode, memory) for memory in MEMORIES}
    found = {memory: b for memory, b in bills.items() if b is not None}
    if not found:
        return [f"(no `ours` result of case {TARGET_CASE} in {mode} mode)"]
    names = list(next(iter(found.values())).lines)
    out = [
        f"| case {TARGET_CASE}, per million jobs ({mode}) | " + " | ".join(f"{m} MB" for m in found) + " |",
        "|---|" + "--:|" * len(found),
    ]
    for name in names:
        out.append(f"| {name} | " + " | ".join(f"${b.lines[name]:.2f}" for b in found.values()) + " |")
    out.append(
        "| **total (the target's definition)** | " + " | ".join(f"**${b.total:.2f}**" for b in found.values()) + " |"
    )
    gateway = api_requests(calls) * API_GATEWAY_REST * 1e6
    out.append(
        f"| API Gateway ({api_requests(calls)} REST requests; outside the target) | "
        + " | ".join(f"${gateway:.2f}" for _ in found)
        + " |"
    )
    return out


def calls_table(calls: dict[str, Any]) -> list[str]:
    job = calls["jobs"][STEADY]
    out = ["| by | service | request | count | $ per million jobs |", "|---|---|---|--:|--:|"]
    for row in job["requests"]:
        units = f" ({row['capacity_units']:g} units)" if "capacity_units" in row else ""
        dollars = request_price(row) * 1e6
        out.append(f"| {row['by']} | {row['service']} | {row['operation']}{units} | {row['count']} | {dollars:.2f} |")
    return out


def report(results: dict[str, Any], calls: dict[str, Any]) -> str:
    single = bill(results, calls, TARGET_CASE, "single", VCPU_MB)
    verdict = ""
    if single is not None:
        met = "met" if single.total <= TARGET_PER_MILLION else "NOT met"
        verdict = (
            f"Target (case {TARGET_CASE}, ≤ ${TARGET_PER_MILLION:.2f} per million, everything included): "
            f"{met}: ${single.total:.2f} at {VCPU_MB} MB, single-threaded."
        )
    return "\n".join(
        [
            f"Per million jobs, us-east-1, arm64 ({PRICES_AS_OF}); CPU times from the bench run of "
            f"{results['settings']['started']} (x86_64: see bench/cost.py for the arm64 caveat), requests "
            f"counted by bench/calls.py ({calls['flow']}).",
            "",
            *case_table(results, calls),
            "",
            *lines_table(results, calls),
            "",
            verdict,
            "",
            "Requests of one job (warm instances), as counted:",
            "",
            *calls_table(calls),
        ]
    )


def write(text: str, path: Path) -> None:
    """Replaces what is between the file's `<!-- cost -->` markers."""
    content = path.read_text()
    pattern = re.compile(r"(<!-- cost -->\n).*?(<!-- /cost -->)", re.S)
    if not pattern.search(content):
        raise SystemExit(f"{path.relative_to(ROOT)} has no <!-- cost --> … <!-- /cost --> markers")
    path.write_text(pattern.sub(lambda m: m[1] + text + "\n" + m[2], content))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=BENCH / "results" / "latest.json")
    parser.add_argument("--calls", type=Path, default=CALLS)
    parser.add_argument("--write", action="store_true", help="into bench/README.md and README.md")
    args = parser.parse_args()
    if not args.results.exists():
        raise SystemExit(f"{args.results} is missing: `make bench` writes it")
    results, calls = json.loads(args.results.read_text()), json.loads(args.calls.read_text())
    text = report(results, calls)
    print(text)
    if args.write:
        write(text, BENCH / "README.md")
        write("\n".join(lines_table(results, calls)), ROOT / "README.md")


if __name__ == "__main__":
    main()
