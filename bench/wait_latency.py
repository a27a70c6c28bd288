"""How long after a job ends does a waiting `GET /v1/jobs/{id}?wait=N` answer? Measured on a local
stack in this process (loopback only): for each job, a client waits on it while the processor runs it
a moment later; the delay is from the moment the processor is done to the moment the answer arrives.

    .venv/bin/python bench/wait_latency.py [JOBS]
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "common")]

import requests  # noqa: E402

from devstack.stack import Stack  # noqa: E402
from tests import images  # noqa: E402
from tests.conftest import free_port  # noqa: E402
from tests.functional.conftest import drain  # noqa: E402

KEY = "ij_wait_latency"


def run_later(stack: Stack, ended: list[float]) -> None:
    """Half a second from now, the processor runs what is queued; then notes the time."""
    time.sleep(0.5)
    drain(stack)
    ended.append(time.monotonic())


def main() -> None:
    jobs = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    stack = Stack(api_key=KEY, api_port=free_port(), aws_port=free_port(), poll=False).start()
    headers = {"X-API-Key": KEY}
    delays = []
    try:
        for _ in range(jobs):
            body = {
                "source": {"upload": {"filename": "a.png", "content_type": "image/png"}},
                "outputs": [{"name": "a", "format": "webp"}],
            }
            created = requests.post(f"{stack.api_url}/jobs", json=body, headers=headers, timeout=10).json()
            form = created["upload"]
            requests.post(form["url"], data=form["fields"], files={"file": images.png(64, 64)}, timeout=10)
            ended: list[float] = []

            runner = threading.Thread(target=run_later, args=(stack, ended))
            runner.start()
            answer = requests.get(
                f"{stack.api_url}/jobs/{created['id']}", params={"wait": 10}, headers=headers, timeout=30
            )
            answered = time.monotonic()
            runner.join()
            assert answer.json()["status"] == "succeeded", answer.text
            delays.append((answered - ended[0]) * 1000)
    finally:
        stack.stop()
    delays.sort()
    p95 = delays[max(0, round(0.95 * len(delays)) - 1)]
    print(f"{jobs} jobs: answered {statistics.median(delays):.0f} ms (median), {p95:.0f} ms (p95) after the job ended")


if __name__ == "__main__":
    main()
