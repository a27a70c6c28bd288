"""A prefix batch of N small images (10,000 by default) on a local stack in this process (loopback
only): how fast the fan-out function makes the jobs, how fast they run, and the fan-out's peak
memory in each of its invocations (one page of up to 1,000 keys each).

    .venv/bin/python bench/prefix_batch.py [OBJECTS] [--run-for SECONDS]

The fan-out's pages are delivered first, alone; every fourth (the first two too) under tracemalloc
(reset before the invocation: what it shows is that invocation's peak, and it includes what the
in-process S3 and DynamoDB emulators allocate to answer it, so it is an upper bound; tracemalloc
slows what it watches, so the others run without it), every one with the growth of the process's
ru_maxrss. Then the job messages they queued are run by the stack's pollers, as Lambda's would,
until the batch has completed, or for `--run-for` seconds at most (the rate is then that of the
jobs run in that time). Jobs per second are reported for both phases.
"""

from __future__ import annotations

import argparse
import resource
import sys
import threading
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "common")]

import requests  # noqa: E402

from devstack.stack import Stack  # noqa: E402
from tests import images  # noqa: E402
from tests.conftest import free_port  # noqa: E402

KEY = "ij_prefix_batch_bench"
PREFIX = "bench/"


def put_objects(stack: Stack, count: int) -> float:
    s3, data = stack.client("s3"), images.jpeg(16, 12, quality=80)
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(lambda i: s3.put_object(Bucket="local-media", Key=f"{PREFIX}{i:06}.jpg", Body=data), range(count))
        )
    return time.monotonic() - started


def list_pages(fan_out: Any) -> tuple[list[tuple[int, int]], list[int], list[float]]:
    """Delivers the fan-out's messages until none is left: each traced page's (index, tracemalloc
    peak), every page's ru_maxrss growth (KiB), and the untraced pages' seconds."""
    peaks: list[tuple[int, int]] = []
    rss_growth: list[int] = []
    seconds: list[float] = []
    while True:
        watched = len(rss_growth) < 2 or len(rss_growth) % 4 == 0
        if watched:
            tracemalloc.start()
        rss_before, began = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.monotonic()
        delivered = fan_out.poll_once(wait_seconds=0)
        peak = tracemalloc.get_traced_memory()[1] if watched else 0
        tracemalloc.stop()
        if delivered == 0:
            break
        if watched:
            peaks.append((len(rss_growth), peak))
        rss_growth.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before)
        if not watched:
            seconds.append(time.monotonic() - began)
    return peaks, rss_growth, seconds


def main() -> None:
    arguments = argparse.ArgumentParser(description="A prefix batch on a local stack: jobs/s and fan-out memory")
    arguments.add_argument("objects", type=int, nargs="?", default=10_000)
    arguments.add_argument("--run-for", type=float, default=None, help="seconds of running jobs at most")
    args = arguments.parse_args()
    count = args.objects
    stack = Stack(api_key=KEY, api_port=free_port(), aws_port=free_port(), poll=False).start()
    headers = {"X-API-Key": KEY}
    try:
        put_seconds = put_objects(stack, count)
        body = {
            "source": {"s3_prefix": {"bucket": "local-media", "prefix": PREFIX, "suffixes": [".jpg"]}},
            "outputs": [
                {
                    "name": "small",
                    "format": "png",
                    "destination": {"bucket": "local-media", "key": "bench-out/{source_key}.{ext}"},
                }
            ],
        }
        started = time.monotonic()
        created = requests.post(f"{stack.api_url}/batches", json=body, headers=headers, timeout=30)
        created.raise_for_status()
        batch_id = created.json()["batch_id"]

        # The listing: the fan-out poller alone, one page per invocation, each measured.
        fan_out = next(p for p in stack.pollers if p.source.function.logical_id == "FanOutFunction")
        peaks, rss_growth, seconds = list_pages(fan_out)
        listed_at = time.monotonic()

        # The jobs: every other poller, in its own thread, as the stack runs them.
        stop = threading.Event()

        def poll(poller: object) -> None:
            while not stop.is_set():
                if poller.poll_once(wait_seconds=1) == 0:  # type: ignore[attr-defined]
                    time.sleep(0.05)

        threads = [threading.Thread(target=poll, args=(p,), daemon=True) for p in stack.pollers if p is not fan_out]
        for thread in threads:
            thread.start()
        until = listed_at + args.run_for if args.run_for else float("inf")
        while True:
            batch = requests.get(
                f"{stack.api_url}/batches/{batch_id}", params={"wait": 20}, headers=headers, timeout=30
            ).json()
            if batch["status"] == "completed" or time.monotonic() > until:
                break
        ended = time.monotonic()
        stop.set()
        for thread in threads:
            thread.join(timeout=10)

        counts = batch["counts"]
        made = len(
            [
                key
                for page in stack.client("s3")
                .get_paginator("list_objects_v2")
                .paginate(Bucket="local-media", Prefix="bench-out/")
                for key in page.get("Contents", [])
            ]
        )
        print(f"objects:                 {count} (put in {put_seconds:.1f} s)")
        print(f"batch:                   {batch['listing']['status']}, {batch['listing']['pages']} pages, {counts}")
        print(f"outputs written:         {made}")
        print(
            f"listing (fan-out):       {listed_at - started:.1f} s, "
            f"{counts['listed'] / (listed_at - started):.0f} jobs made/s"
        )
        print(
            f"jobs run:                {ended - listed_at:.1f} s, "
            f"{(counts['succeeded'] + counts['failed']) / (ended - listed_at):.1f} jobs/s"
        )
        print(f"batch status:            {batch['status']} after {ended - started:.1f} s")
        print("fan-out peak per invocation (tracemalloc, MiB, by page):", {p: round(b / 2**20, 1) for p, b in peaks})
        print("fan-out ru_maxrss growth per invocation (MiB):", [round(kib / 1024, 1) for kib in rss_growth])
        if seconds:
            print(f"fan-out seconds per page (not traced): {min(seconds):.1f} to {max(seconds):.1f}")
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
