"""`python -m devstack` (what `make run` runs): the local stack until Ctrl-C.

Environment: IMAGEJOBS_PORT (API, default 3000), IMAGEJOBS_AWS_PORT (moto, default 3001),
IMAGEJOBS_API_KEY (default ij_local_dev_key), IMAGEJOBS_WEBHOOK_SECRET (default: a new one),
IMAGEJOBS_PARAMETER_OVERRIDES (template parameters, as `sam deploy` takes them: "Name=Value ..."),
IMAGEJOBS_KILL ("ProcessFunction=timeout" or "=out_of_memory", space-separated: every invocation of
the function is stopped midway, as Lambda stops one that runs out of time or memory),
IMAGEJOBS_FAULTS (AWS errors and duplicate or late SQS deliveries at random, off by default:
"seed=7,s3_put=0.05,ddb_throttle=0.02,...", see devstack/faults.py; counted and printed at the end).
"""

from __future__ import annotations

import os
import re
import signal
import threading

from devstack.faults import Faults
from devstack.stack import Stack
from devstack.template import ROOT

DEFAULT_API_KEY = "ij_local_dev_key"


def walkthrough() -> str:
    """The README's curl walkthrough, which is also what `make run` prints."""
    readme = (ROOT / "README.md").read_text()
    found = re.search(r"<!-- walkthrough -->\s*```sh\n(.*?)```", readme, re.S)
    return found.group(1) if found else "(see README.md)"


def main() -> None:
    stack = Stack(
        api_key=os.environ.get("IMAGEJOBS_API_KEY", DEFAULT_API_KEY),
        api_port=int(os.environ.get("IMAGEJOBS_PORT", "3000")),
        aws_port=int(os.environ.get("IMAGEJOBS_AWS_PORT", "3001")),
        webhook_secret=os.environ.get("IMAGEJOBS_WEBHOOK_SECRET"),
        parameters=dict(pair.split("=", 1) for pair in os.environ.get("IMAGEJOBS_PARAMETER_OVERRIDES", "").split()),
        kills=dict(pair.split("=", 1) for pair in os.environ.get("IMAGEJOBS_KILL", "").split()),
        faults=Faults.parse(os.environ.get("IMAGEJOBS_FAULTS", "")),
    ).start()
    print(
        f"\nimagejobs is running on {stack.api_url} (AWS services on {stack.aws_url})\n"
        f"  API key:        {stack.api_key}\n"
        f"  webhook secret: {stack.webhook_secret}\n\n"
        f"Try it (from the repository's root):\n\n{walkthrough()}\nCtrl-C stops it.",
        flush=True,
    )
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
