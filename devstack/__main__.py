"""`python -m devstack` (what `make run` runs): the local stack until Ctrl-C.

Environment: IMAGEJOBS_PORT (API, default 3000), IMAGEJOBS_AWS_PORT (moto, default 3001),
IMAGEJOBS_API_KEY (default ij_local_dev_key), IMAGEJOBS_WEBHOOK_SECRET (default: a new one),
IMAGEJOBS_PARAMETER_OVERRIDES (template parameters, as `sam deploy` takes them: "Name=Value ..."),
IMAGEJOBS_KILL ("ProcessFunction=timeout" or "=out_of_memory", space-separated: every invocation of
the function is stopped midway, as Lambda stops one that runs out of time or memory),
IMAGEJOBS_IAM_RECORDS (a directory; the tests set it): each function's AWS calls are authorized
against its role in template.yaml, refused as AWS would, and recorded there (see devstack/iam.py).
IMAGEJOBS_FAULTS (AWS errors and duplicate or late SQS deliveries at random, off by default:
"seed=7,s3_put=0.05,ddb_throttle=0.02,...", see devstack/faults.py; counted and printed at the end).
"""

from __future__ import annotations

import os
import re
import signal
import threading
from pathlib import Path

from devstack.faults import Faults
from devstack.stack import Stack
from devstack.template import ROOT

DEFAULT_API_KEY = "ij_local_dev_key"


def walkthrough() -> str:
    """The commands of the README's curl walkthrough (its code blocks, without the words between
    them), which is also what `make run` prints."""
    readme = (ROOT / "README.md").read_text()
    found = re.search(r"<!-- walkthrough -->(.*?)<!-- /walkthrough -->", readme, re.S)
    blocks = re.findall(r"```sh\n(.*?)```", found.group(1), re.S) if found else []
    return "\n".join(blocks) if blocks else "(see README.md)\n"


def buckets(stack: Stack) -> str:
    """The connected buckets, and how to put a file in one (any credentials do locally)."""
    if not stack.connected_buckets:
        return ""
    bucket = stack.connected_buckets[0]
    environment = "AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_DEFAULT_REGION=us-east-1"
    return (
        f"  buckets:        {', '.join(stack.connected_buckets)} (the API key's tenant may read and write them)\n"
        f"  put a file in {bucket} with the AWS CLI:\n"
        f"    {environment} aws --endpoint-url {stack.aws_url} s3 cp samples/photo.jpg s3://{bucket}/photos/photo.jpg\n"
        f"  or with boto3:\n"
        f'    boto3.client("s3", endpoint_url="{stack.aws_url}", region_name="us-east-1",\n'
        f'                 aws_access_key_id="local", aws_secret_access_key="local")'
        f'.upload_file("samples/photo.jpg", "{bucket}", "photos/photo.jpg")\n'
        f'  then: {{"source": {{"s3": {{"bucket": "{bucket}", "key": "photos/photo.jpg"}}}}, ...}}'
        f" (README.md: Your buckets)\n"
    )


def main() -> None:
    stack = Stack(
        api_key=os.environ.get("IMAGEJOBS_API_KEY", DEFAULT_API_KEY),
        api_port=int(os.environ.get("IMAGEJOBS_PORT", "3000")),
        aws_port=int(os.environ.get("IMAGEJOBS_AWS_PORT", "3001")),
        webhook_secret=os.environ.get("IMAGEJOBS_WEBHOOK_SECRET"),
        parameters=dict(pair.split("=", 1) for pair in os.environ.get("IMAGEJOBS_PARAMETER_OVERRIDES", "").split()),
        kills=dict(pair.split("=", 1) for pair in os.environ.get("IMAGEJOBS_KILL", "").split()),
        iam_records=Path(records) if (records := os.environ.get("IMAGEJOBS_IAM_RECORDS")) else None,
        faults=Faults.parse(os.environ.get("IMAGEJOBS_FAULTS", "")),
    ).start()
    print(
        f"\nimagejobs is running on {stack.api_url} (AWS services on {stack.aws_url})\n"
        f"  API key:        {stack.api_key}\n"
        f"  webhook secret: {stack.webhook_secret}\n"
        f"  playground:     {stack.api_url}/playground (API reference: {stack.api_url}/docs)\n\n"
        f"{buckets(stack)}\n"
        f"Try it from the repository's root, in bash or zsh (README.md's Try it says what each step does):\n\n"
        f"{walkthrough()}\nCtrl-C stops it.",
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
