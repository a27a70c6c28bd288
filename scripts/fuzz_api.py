"""`make fuzz-api`: schemathesis against the served OpenAPI document of a local stack, checking that
nothing answers 5xx and every answer keeps to the document (status, content type, schema).

Without --api-url it starts `python -m devstack` on free ports for the run and stops it after.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHECKS = "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance"
KEY = "ij_fuzz_key"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def fuzz(api_url: str, key: str, examples: int) -> int:
    st = Path(sys.executable).with_name("st")
    command = [str(st), "run", f"{api_url}/openapi.json", "--url", api_url, "-H", f"X-API-Key: {key}"]
    command += ["--checks", CHECKS, "--max-examples", str(examples), "--no-color"]
    command += ["--request-timeout", "25"]  # a read may wait 20 s for its job (?wait=20) by design
    return subprocess.run(command, check=False).returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--api-url", help="a running stack's API, e.g. http://127.0.0.1:3000/v1")
    parser.add_argument("--key", default=KEY, help="its API key")
    parser.add_argument("--examples", type=int, default=int(os.environ.get("FUZZ_EXAMPLES", "100")))
    args = parser.parse_args()
    if args.api_url:
        return fuzz(args.api_url, args.key, args.examples)
    port = free_port()
    environment = {**os.environ, "IMAGEJOBS_PORT": str(port), "IMAGEJOBS_AWS_PORT": str(free_port())}
    environment["IMAGEJOBS_API_KEY"] = KEY
    stack = subprocess.Popen(
        [sys.executable, "-m", "devstack"], cwd=ROOT, env=environment, stdout=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        assert stack.stdout is not None
        while "imagejobs is running" not in stack.stdout.readline():
            if stack.poll() is not None or time.monotonic() > deadline:
                print("the local stack did not start", file=sys.stderr)
                return 1
        return fuzz(f"http://127.0.0.1:{port}/v1", KEY, args.examples)
    finally:
        stack.terminate()
        stack.wait(timeout=20)


if __name__ == "__main__":
    sys.exit(main())
