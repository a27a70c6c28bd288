"""A prefix batch of N small images (10,000 by default) on a local stack in this process (loopback
only): how fast the fan-out function makes the jobs, how fast they run, and the fan-out's peak
memory in each of its invocations (one page of up to 1,000 keys each).

    .venv/bin/python bench/prefix_batch.py [OBJECTS]

The fan-out's pages are delivered first, alone, each under tracemalloc (reset before every
invocation: what it shows is that invocation's peak, and it includes what the in-process S3 and
DynamoDB emulators allocate to answer it, so it is an upper bound), then the job messages they
queued are run by the stack's pollers, as Lambda's would, until the batch has completed. Jobs per
second are reported for both phases and end to end.
"""

from __future__ import annotations

import resource
import sys
import threading
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

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


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
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
        peaks, rss_growth = [], []
        tracemalloc.start()
        while True:
            tracemalloc.reset_peak()
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            if fan_out.poll_once(wait_seconds=0) == 0:
                break
            peaks.append(tracemalloc.get_traced_memory()[1])
            rss_growth.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before)
        tracemalloc.stop()
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
        while True:
            batch = requests.get(
                f"{stack.api_url}/batches/{batch_id}", params={"wait": 20}, headers=headers, timeout=30
            ).json()
            if batch["status"] == "completed":
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
            f"{counts['succeeded'] / (ended - listed_at):.1f} jobs/s"
        )
        print(f"end to end:              {ended - started:.1f} s, {counts['total'] / (ended - started):.1f} jobs/s")
        mib = [peak / 2**20 for peak in peaks]
        print(
            f"fan-out peak per invocation (tracemalloc): min {min(mib):.1f} MiB, max {max(mib):.1f} MiB "
            f"over {len(mib)} invocations; first {mib[0]:.1f}, last {mib[-1]:.1f}"
        )
        print(f"fan-out ru_maxrss growth per invocation: max {max(rss_growth) / 1024:.1f} MiB")
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
