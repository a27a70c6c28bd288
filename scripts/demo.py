"""`make demo`: against a running `make run`, upload a sample, make a job, wait, save the results.

IMAGEJOBS_PORT and IMAGEJOBS_API_KEY are read as `make run` reads them.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
API = f"http://127.0.0.1:{os.environ.get('IMAGEJOBS_PORT', '3000')}/v1"
HEADERS = {"X-API-Key": os.environ.get("IMAGEJOBS_API_KEY", "ij_local_dev_key")}
OUTPUTS = [
    {
        "name": "thumb",
        "format": "webp",
        "quality": 80,
        "operations": [{"type": "resize", "width": 400, "height": 400, "fit": "cover"}],
    },
    {
        "name": "banner",
        "format": "jpeg",
        "quality": 85,
        "operations": [{"type": "resize", "width": 1200, "height": 400, "fit": "cover", "position": "south"}],
    },
    {
        "name": "portrait",
        "format": "png",
        "operations": [{"type": "rotate", "angle": 90}, {"type": "resize", "width": 300}],
    },
]


def main() -> int:
    sample = ROOT / "samples" / "photo.jpg"
    try:
        created = requests.post(
            f"{API}/jobs",
            json={"source": {"upload": {"filename": sample.name, "content_type": "image/jpeg"}}, "outputs": OUTPUTS},
            headers=HEADERS,
            timeout=10,
        )
    except requests.ConnectionError:
        print(f"nothing answers on {API}: start the stack with `make run` first", file=sys.stderr)
        return 1
    created.raise_for_status()
    job = created.json()
    form = job["upload"]
    print(f"job {job['id']}: uploading {sample.relative_to(ROOT)} with its presigned form")
    with sample.open("rb") as image:
        requests.post(form["url"], data=form["fields"], files={"file": (sample.name, image, "image/jpeg")}, timeout=30)
    while job["status"] not in ("succeeded", "failed"):
        time.sleep(0.2)
        job = requests.get(f"{API}/jobs/{job['id']}", headers=HEADERS, timeout=10).json()
    if job["status"] == "failed":
        print(f"job failed: {job['error']['code']}: {job['error']['message']}", file=sys.stderr)
        return 1
    out = ROOT / "out"
    out.mkdir(exist_ok=True)
    for output in job["outputs"]:
        path = out / f"{output['name']}.{output['format'].replace('jpeg', 'jpg')}"
        path.write_bytes(requests.get(output["url"], timeout=30).content)
        size = f"{output['width']}x{output['height']}, {output['bytes']} bytes"
        print(f"  {path.relative_to(ROOT)}: {output['format']} {size}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
