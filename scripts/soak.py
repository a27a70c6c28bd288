"""`make soak`: a bad day, rehearsed on the local stack (loopback only, bounded, stops by itself).

Starts `python -m devstack` on free loopback ports with faults injected at random (devstack/faults.py:
S3 writes and reads failing, DynamoDB throttling and conditional conflicts, EventBridge refusing an
event, SQS messages delivered twice or late) and callback retries seconds apart; a callback receiver
on loopback that is down (connections refused, then 503s) for a while, then up; and an image origin
for URL sources. Client threads make the jobs (uploads, uploads reused by several jobs, one-call
uploads, URL sources, a few batches, a few broken images; webp, jpeg and png outputs), retrying what
a careful client retries (the same Idempotency-Key), and wait for each. Then every job is checked by
its id and the table printed:

  created, succeeded, failed by code, lost (jobs not ended: must be 0), duplicated outputs (objects
  in S3 the job's document does not list: must be 0), callbacks (every job and batch with a callback
  got exactly one webhook-id, delivered, its signature verified), latency (created -> seen ended),
  the faults injected, and the API's error answers the clients retried.

Exit status 1 when anything is lost, duplicated, missing or a callback is wrong.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pyvips
import requests
from botocore.config import Config
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

ROOT = Path(__file__).resolve().parent.parent
# Rates low enough for 1,000 jobs in about 15 minutes: the local stack runs each function as one
# instance, so each throttled call's backoff (seconds, as botocore's) holds up every job behind it.
FAULTS = (
    "s3_put=0.03,s3_get=0.01,ddb_throttle=0.005,ddb_conflict=0.03,events_put=0.02,sqs_duplicate=0.05,sqs_delay=0.05"
)
CALLBACK_RETRY_DELAYS = "1,2,4,8"  # then every 8 s: 13 attempts span ~90 s, more than the receiver is down
API_KEY = "ij_soak_key"
WEBHOOK_SECRET = "whsec_" + "c29hay10ZXN0LXNlY3JldC1mb3ItdGhlLWxvY2FsLXN0YWNr"
BATCH_SIZE = 5
GRACE = 90  # seconds the checks wait at least for the last jobs: a job's third delivery is 70 s after its first
POLL_SECONDS = (0.5, 2.0)  # a client polls a job every half second at first, then less often
ENDED = ("succeeded", "failed")
OUTPUT_CHOICES = (
    {"name": "thumb", "format": "webp", "operations": [{"type": "resize", "width": 64, "height": 64, "fit": "cover"}]},
    {"name": "small", "format": "jpeg", "quality": 80, "operations": [{"type": "resize", "width": 160}]},
    {"name": "icon", "format": "png", "operations": [{"type": "resize", "width": 48}]},
    {"name": "grey", "format": "webp", "operations": [{"type": "filter", "name": "grayscale"}]},
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def sample_images() -> list[tuple[str, str, bytes]]:
    """Small real images (filename, content type, bytes) made from the repository's samples."""
    photo = pyvips.Image.new_from_file(str(ROOT / "samples" / "photo.jpg"))
    logo = pyvips.Image.new_from_file(str(ROOT / "samples" / "logo.png"))
    return [
        ("photo.jpg", "image/jpeg", photo.thumbnail_image(320).write_to_buffer(".jpg[Q=85]")),
        ("wide.jpg", "image/jpeg", photo.thumbnail_image(200).rot90().write_to_buffer(".jpg[Q=80]")),
        ("logo.png", "image/png", logo.thumbnail_image(128).write_to_buffer(".png")),
        ("photo.webp", "image/webp", photo.thumbnail_image(240).write_to_buffer(".webp[Q=75]")),
    ]


# ---- what runs beside the stack ----------------------------------------------------------------


@dataclass
class Received:
    webhook_id: str
    type: str
    subject: str  # the job's or batch's id
    status: str  # the job's status in the callback (batch: "completed")
    answered: int
    at: float


@dataclass
class Receiver:
    """The users' callback endpoint on loopback: refuses connections for the first half of `down`
    seconds, answers 503 for the second half, then verifies each delivery's signature and answers 200."""

    secret: str
    down: float
    port: int = field(default_factory=free_port)
    received: list[Received] = field(default_factory=list)
    forged: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def start(self) -> Receiver:
        self.started = time.monotonic()
        self.timer = threading.Timer(self.down / 2, self._listen)
        self.timer.daemon = True
        self.timer.start()
        return self

    def _listen(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                up = time.monotonic() - receiver.started >= receiver.down
                try:
                    payload = Webhook(receiver.secret).verify(body, headers)
                except WebhookVerificationError:
                    with receiver.lock:
                        receiver.forged += 1
                    self._answer(401)
                    return
                status = 200 if up else 503
                data = payload["data"]
                with receiver.lock:
                    receiver.received.append(
                        Received(
                            headers["webhook-id"],
                            payload["type"],
                            data["id"],
                            data["status"],
                            status,
                            time.monotonic(),
                        )
                    )
                self._answer(status)

            def _answer(self, status: int) -> None:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.timer.cancel()
        if hasattr(self, "server"):
            self.server.shutdown()
            self.server.server_close()


@contextmanager
def origin(image: bytes) -> Iterator[str]:
    """An image server on loopback for URL sources."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(image)))
            self.end_headers()
            self.wfile.write(image)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/photo.jpg"
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Stack:
    api_url: str
    aws_url: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> dict[str, dict[str, int]]:
        """Stops the stack; the faults it injected, by kind, as it printed them."""
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)
        found = re.search(r"faults injected: (\{.*\})", self.log.read_text())
        return json.loads(found.group(1)) if found else {}


def start_stack(faults: str, log: Path) -> Stack:
    port, aws_port = free_port(), free_port()
    environment = {
        **os.environ,
        "IMAGEJOBS_PORT": str(port),
        "IMAGEJOBS_AWS_PORT": str(aws_port),
        "IMAGEJOBS_API_KEY": API_KEY,
        "IMAGEJOBS_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "IMAGEJOBS_FAULTS": faults,
        # callback retries seconds apart; a rate limit the 20 clients' polling stays under
        "IMAGEJOBS_PARAMETER_OVERRIDES": f"CallbackRetryDelays={CALLBACK_RETRY_DELAYS} "
        "KeyedRateLimit=1000 KeyedBurstLimit=2000",
    }
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "devstack"], cwd=ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 90
    while "imagejobs is running" not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"the local stack did not start; see {log}")
        time.sleep(0.2)
    return Stack(f"http://127.0.0.1:{port}/v1", f"http://127.0.0.1:{aws_port}", process, log)


# ---- the clients ---------------------------------------------------------------------------------


class GaveUpError(Exception):
    """A request still failed after every retry a careful client makes."""


@dataclass
class Api:
    """One client: retries connection errors, 429 (after Retry-After) and 5xx, with the same
    Idempotency-Key for the POSTs that make something, as a careful client does."""

    url: str
    answered: Counter[str]  # the API's error answers that were retried, by status (shared)
    lock: threading.Lock
    session: requests.Session = field(default_factory=requests.Session)

    def call(self, method: str, path: str, body: Any = None, *, key: str | None = None) -> dict[str, Any]:
        headers = {"X-API-Key": API_KEY, **({"Idempotency-Key": key} if key else {})}
        response = self._retrying(
            lambda: self.session.request(method, f"{self.url}{path}", json=body, headers=headers, timeout=30)
        )
        if response.status_code >= 400:
            raise GaveUpError(f"{method} {path}: {response.status_code} {response.text[:200]}")
        return dict(response.json())

    def send_form(self, form: dict[str, Any], filename: str, content_type: str, data: bytes) -> None:
        response = self._retrying(
            lambda: self.session.post(
                form["url"], data=form["fields"], files={"file": (filename, data, content_type)}, timeout=30
            )
        )
        if response.status_code >= 300:
            raise GaveUpError(f"upload: {response.status_code} {response.text[:200]}")

    def _retrying(self, send: Any) -> requests.Response:
        for attempt in range(10):
            try:
                response: requests.Response = send()
            except (requests.ConnectionError, requests.Timeout):
                self._count("no answer")
            else:
                if response.status_code != 429 and response.status_code < 500 and not _in_progress(response):
                    return response
                self._count(str(response.status_code))
                if attempt == 9:
                    return response
                retry_after = response.headers.get("Retry-After", "")
                if retry_after.isdigit():
                    time.sleep(int(retry_after))
                    continue
            time.sleep(min(0.2 * 2**attempt, 5))
        raise GaveUpError("no answer after 10 attempts")

    def _count(self, what: str) -> None:
        with self.lock:
            self.answered[what] += 1


def _poll_delay(waited: float) -> float:
    """Half a second for the first 10 s, then growing to 2 s."""
    first, longest = POLL_SECONDS
    return min(longest, max(first, waited / 20))


def _in_progress(response: requests.Response) -> bool:
    """A 409 that asks to try again: a request with this Idempotency-Key is still being handled."""
    return response.status_code == 409 and "still being handled" in response.text


@dataclass
class Made:
    """A job as its client knows it."""

    id: str
    kind: str
    created: float  # when the API answered its creation (monotonic)
    callback: bool
    batch_id: str | None = None
    seen_ended: float | None = None


@dataclass
class Unit:
    """What a client does in one go: one job of a kind, or a batch."""

    kind: str  # upload, reused_upload, one_call, url, broken, batch
    outputs: list[dict[str, Any]]
    callback: bool
    image: int


def plan(jobs: int, seed: int, images: int) -> list[Unit]:
    """The work, `jobs` jobs in all: about 15 % of them in batches of 5, the rest single jobs of
    mixed sources (2 % broken images, which fail)."""
    rng = random.Random(seed)  # noqa: S311 (a reproducible mix, not secrets)
    units: list[Unit] = []
    left = jobs
    while left > 0:
        roll = rng.random()
        if left >= BATCH_SIZE and roll < 0.03:
            kind = "batch"
        elif roll < 0.05:
            kind = "broken"
        elif roll < 0.40:
            kind = "upload"
        elif roll < 0.60:
            kind = "reused_upload"
        elif roll < 0.90:
            kind = "one_call"
        else:
            kind = "url"
        outputs = rng.sample(OUTPUT_CHOICES, rng.choice((1, 1, 2)))
        units.append(Unit(kind, [dict(o) for o in outputs], rng.random() < 0.8, rng.randrange(images)))
        left -= BATCH_SIZE if kind == "batch" else 1
    return units


@dataclass
class Soak:
    api_url: str
    receiver: Receiver
    image_url: str
    images: list[tuple[str, str, bytes]]
    wait: float  # the longest a client waits for one job or batch before it moves on
    until: float  # when the clients stop making new jobs (monotonic)
    made: list[Made] = field(default_factory=list)
    batches: dict[str, bool] = field(default_factory=dict)  # batch id -> has a callback
    answered: Counter[str] = field(default_factory=Counter)
    gave_up: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def client(self, units: list[Unit]) -> None:
        api = Api(self.api_url, self.answered, self.lock)
        last_upload: str | None = None
        for unit in units:
            if time.monotonic() > self.until:
                return  # out of time: what was not made is missing from "created"
            try:
                if unit.kind == "batch":
                    self._batch(api, unit)
                    continue
                job, last_upload = self._job(api, unit, last_upload)
                self._wait(api, [job])
            except GaveUpError as error:
                with self.lock:
                    self.gave_up.append(str(error))

    def _upload(self, api: Api, image: int) -> str:
        filename, content_type, data = self.images[image]
        form = api.call("POST", "/uploads", {"filename": filename, "content_type": content_type})
        api.send_form(form, filename, content_type, data)
        return str(form["upload_id"])

    def _body(self, unit: Unit, source: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {"source": source, "outputs": unit.outputs, "metadata": {"soak": unit.kind}}
        if unit.callback:
            body["callback_url"] = f"{self.receiver.url}/jobs"
        return body

    def _job(self, api: Api, unit: Unit, last_upload: str | None) -> tuple[Made, str | None]:
        filename, content_type, data = self.images[unit.image]
        source: dict[str, Any]
        if unit.kind == "url":
            source = {"url": self.image_url}
        elif unit.kind == "one_call":
            source = {"upload": {"filename": filename, "content_type": content_type}}
        elif unit.kind == "broken":
            form = api.call("POST", "/uploads", {"filename": filename, "content_type": content_type})
            api.send_form(form, filename, content_type, data[: len(data) // 3])  # cut short: a corrupt image
            source = {"upload_id": form["upload_id"]}
        elif unit.kind == "reused_upload" and last_upload is not None:
            source = {"upload_id": last_upload}
        else:
            last_upload = self._upload(api, unit.image)
            source = {"upload_id": last_upload}
        created = api.call("POST", "/jobs", self._body(unit, source), key=str(uuid.uuid4()))
        job = Made(created["id"], unit.kind, time.monotonic(), unit.callback)
        with self.lock:
            self.made.append(job)
        if unit.kind == "one_call":
            api.send_form(created["upload"], filename, content_type, data)
        return job, last_upload

    def _batch(self, api: Api, unit: Unit) -> None:
        jobs = [self._body(unit, {"upload_id": self._upload(api, unit.image)}) for _ in range(BATCH_SIZE)]
        body: dict[str, Any] = {"jobs": jobs}
        if unit.callback:
            body["callback_url"] = f"{self.receiver.url}/batches"
        created = api.call("POST", "/batches", body, key=str(uuid.uuid4()))
        at = time.monotonic()
        made = [Made(job_id, "batch", at, unit.callback, created["batch_id"]) for job_id in created["job_ids"]]
        with self.lock:
            self.made.extend(made)
            self.batches[created["batch_id"]] = unit.callback
        deadline = at + self.wait
        while time.monotonic() < deadline and any(job.seen_ended is None for job in made):
            statuses = {j["id"]: j["status"] for j in api.call("GET", f"/batches/{created['batch_id']}")["jobs"]}
            for job in made:
                if job.seen_ended is None and statuses.get(job.id) in ENDED:
                    job.seen_ended = time.monotonic()
            time.sleep(_poll_delay(time.monotonic() - at))

    def _wait(self, api: Api, jobs: list[Made]) -> None:
        for job in jobs:
            deadline = job.created + self.wait
            while time.monotonic() < deadline:
                if api.call("GET", f"/jobs/{job.id}")["status"] in ENDED:
                    job.seen_ended = time.monotonic()
                    break
                time.sleep(_poll_delay(time.monotonic() - job.created))


# ---- the checks ----------------------------------------------------------------------------------


@dataclass
class Report:
    created: int
    statuses: Counter[str]
    failed: Counter[str]  # by error code
    lost: list[str]  # jobs not ended
    unknown: dict[str, str]  # jobs the tenant has that no client was told of -> their status
    duplicated: dict[str, int]  # job id -> objects in S3 its document does not list
    missing: dict[str, int]  # job id -> outputs its document lists that are not in S3
    callbacks_expected: int
    callbacks_ok: int
    callback_problems: list[str]
    callback_deliveries: int
    forged: int
    latencies: list[float]
    faults: dict[str, dict[str, int]]
    answered: Counter[str]
    gave_up: list[str]
    seconds: float

    @property
    def ok(self) -> bool:
        return not (
            self.lost or self.unknown or self.duplicated or self.missing or self.callback_problems or self.gave_up
        )


def _percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def final_documents(api: Api, made: list[Made], until: float) -> dict[str, dict[str, Any]]:
    """Every job's document once it has ended, or as it is at `until` (the tenant's list first, then
    each job still running by its id)."""
    known = {job.id for job in made}
    documents = {job["id"]: job for job in listed_jobs(api) if job["id"] in known}
    pending = [job.id for job in made if documents.get(job.id, {}).get("status") not in ENDED]
    while pending:
        for job_id in pending:
            try:
                documents[job_id] = api.call("GET", f"/jobs/{job_id}")
            except GaveUpError as error:  # a job its client was told of and the API does not know: lost
                documents[job_id] = {"id": job_id, "status": f"unreadable ({error})", "outputs": []}
        pending = [job_id for job_id in pending if documents[job_id]["status"] not in ENDED]
        if pending and time.monotonic() < until:
            time.sleep(2)
        else:
            break
    return documents


def listed_jobs(api: Api) -> list[dict[str, Any]]:
    jobs: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = api.call("GET", "/jobs?limit=100" + (f"&cursor={cursor}" if cursor else ""))
        jobs += page["jobs"]
        cursor = page.get("next_cursor")
        if not cursor:
            return jobs


# The stack's own bucket, as devstack/provision.py names the template's `Bucket` in the stack
# `python -m devstack` starts ("imagejobs-local"); beside it are the connected buckets.
STACK_BUCKET = "imagejobs-local-bucket"


def stored_outputs(aws_url: str) -> dict[str, list[str]]:
    """The output objects in the stack's bucket, by job id (outputs/<tenant>/<job>/<name>.<ext>)."""
    s3 = boto3.client(
        "s3",
        endpoint_url=aws_url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 (moto's, on loopback)
        config=Config(retries={"mode": "standard"}),
    )
    found: dict[str, list[str]] = defaultdict(list)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=STACK_BUCKET, Prefix="outputs/"):
        for item in page.get("Contents", []):
            _, _tenant, job_id, name = item["Key"].split("/", 3)
            found[job_id].append(name)
    return found


def check_callbacks(
    receiver: Receiver, documents: dict[str, dict[str, Any]], made: list[Made], batches: dict[str, bool]
) -> tuple[int, int, list[str]]:
    """(expected, right, problems): every ended job and batch with a callback got one webhook-id,
    answered 200 at least once, of the type its ending says."""
    with receiver.lock:
        received = list(receiver.received)
    by_subject: dict[str, list[Received]] = defaultdict(list)
    for delivery in received:
        by_subject[delivery.subject].append(delivery)
    expected = [(job.id, documents[job.id]["status"]) for job in made if job.callback]
    expected += [(batch_id, "completed") for batch_id, callback in batches.items() if callback]
    problems = []
    for subject, status in expected:
        deliveries = by_subject.get(subject, [])
        ids = {d.webhook_id for d in deliveries}
        if status not in (*ENDED, "completed"):
            continue  # not ended: counted as lost
        if not any(d.answered == 200 for d in deliveries):
            problems.append(f"{subject}: never delivered ({len(deliveries)} attempts)")
        elif len(ids) != 1:
            problems.append(f"{subject}: {len(ids)} webhook-ids ({', '.join(sorted(ids))})")
        elif any(d.status != status for d in deliveries):
            problems.append(f"{subject}: a callback said {deliveries[0].status}, the job is {status}")
    unexpected = by_subject.keys() - {subject for subject, _ in expected}
    problems += [f"{subject}: a callback nobody asked for" for subject in sorted(unexpected)]
    right = len(expected) - len([p for p in problems if not p.endswith("nobody asked for")])
    return len(expected), right, problems


def callbacks_settled(
    receiver: Receiver, documents: dict[str, dict[str, Any]], made: list[Made], batches: dict[str, bool]
) -> bool:
    """Whether every ended job with a callback, and every batch with one whose jobs all ended, was
    called back (answered 200)."""
    with receiver.lock:
        delivered = {d.subject for d in receiver.received if d.answered == 200}
    ended = {job.id for job in made if documents[job.id]["status"] in ENDED}
    jobs = all(job.id in delivered for job in made if job.callback and job.id in ended)
    completed = {
        batch_id
        for batch_id, callback in batches.items()
        if callback and all(job.id in ended for job in made if job.batch_id == batch_id)
    }
    return jobs and completed <= delivered


@dataclass(frozen=True)
class Options:
    jobs: int = 1000
    clients: int = 20
    seed: int = 7
    faults: str = FAULTS  # IMAGEJOBS_FAULTS, without the seed
    timeout: float = 900  # seconds the whole run may take
    down: float = 30  # seconds the callback receiver is down at the start
    log: Path | None = None  # the stack's log (default: a new temporary file)
    progress: bool = True


def run(options: Options) -> Report:
    started = time.monotonic()
    until = started + options.timeout
    say = print if options.progress else (lambda *_a, **_k: None)
    images = sample_images()
    receiver = Receiver(WEBHOOK_SECRET, options.down).start()
    faults = f"seed={options.seed},{options.faults}" if options.faults else ""
    log = options.log or Path(tempfile.mkdtemp(prefix="imagejobs-soak-")) / "devstack.log"
    say(f"starting the local stack with faults {faults or '(none)'} (log: {log})", flush=True)
    stack = start_stack(faults, log)
    faults_seen: dict[str, dict[str, int]] = {}
    try:
        with origin(images[0][2]) as image_url:
            soak = Soak(stack.api_url, receiver, image_url, images, max(30.0, options.timeout / 4), until)
            units = plan(options.jobs, options.seed, len(images))
            clients = options.clients
            threads = [
                threading.Thread(target=soak.client, args=(units[n::clients],), name=f"client-{n}")
                for n in range(clients)
            ]
            for thread in threads:
                thread.start()
            while any(thread.is_alive() for thread in threads):
                time.sleep(5)
                ended = sum(1 for job in soak.made if job.seen_ended is not None)
                say(f"  {time.monotonic() - started:5.0f} s: {len(soak.made)} created, {ended} seen ended", flush=True)
            api = Api(stack.api_url, Counter(), threading.Lock())
            until = max(until, time.monotonic() + GRACE)  # the last jobs made may be due for a retry
            documents = final_documents(api, soak.made, until)
            while not callbacks_settled(receiver, documents, soak.made, soak.batches) and time.monotonic() < until:
                time.sleep(1)
            time.sleep(min(3.0, max(0.0, until - time.monotonic())))  # late duplicates of callbacks, if any
            listed = listed_jobs(api)
            stored = stored_outputs(stack.aws_url)
    finally:
        faults_seen = stack.stop()
        receiver.stop()
    known = {job.id for job in soak.made}
    duplicated, missing = {}, {}
    for job_id, document in documents.items():
        listed_names = {f"{o['name']}.{o['url'].split('?')[0].rsplit('.', 1)[-1]}" for o in document["outputs"]}
        in_s3 = set(stored.get(job_id, []))
        if in_s3 - listed_names:
            duplicated[job_id] = len(in_s3 - listed_names)
        if listed_names - in_s3:
            missing[job_id] = len(listed_names - in_s3)
    expected, right, problems = check_callbacks(receiver, documents, soak.made, soak.batches)
    return Report(
        created=len(soak.made),
        statuses=Counter(d["status"] for d in documents.values()),
        failed=Counter(d["error"]["code"] for d in documents.values() if d["status"] == "failed"),
        lost=sorted(job_id for job_id, d in documents.items() if d["status"] not in ENDED),
        unknown={j["id"]: j["status"] for j in listed if j["id"] not in known},
        duplicated=duplicated,
        missing=missing,
        callbacks_expected=expected,
        callbacks_ok=right,
        callback_problems=problems,
        callback_deliveries=len(receiver.received),
        forged=receiver.forged,
        latencies=sorted(job.seen_ended - job.created for job in soak.made if job.seen_ended is not None),
        faults=faults_seen,
        answered=soak.answered,
        gave_up=soak.gave_up,
        seconds=time.monotonic() - started,
    )


def table(report: Report) -> str:
    rows = [
        ("created", str(report.created)),
        ("succeeded", str(report.statuses["succeeded"])),
        *[(f"failed: {code}", str(n)) for code, n in sorted(report.failed.items())],
        ("lost (not ended)", str(len(report.lost))),
        ("unknown jobs (made, never answered)", str(len(report.unknown))),
        ("duplicated outputs (in S3, not in the document)", str(sum(report.duplicated.values()))),
        ("missing outputs (in the document, not in S3)", str(sum(report.missing.values()))),
        (
            "callbacks delivered (one webhook-id each, signed)",
            f"{report.callbacks_ok} of {report.callbacks_expected} ({report.callback_deliveries} attempts received)",
        ),
        ("forged callbacks", str(report.forged)),
        ("latency p50 / p95 (created -> seen ended)", _latencies(report.latencies)),
        *[
            (f"fault {kind}", f"{n['injected']} injected, {n['surfaced']} reached the code")
            for kind, n in sorted(report.faults.items())
        ],
        *[(f"API answered {what} (retried)", str(n)) for what, n in sorted(report.answered.items())],
        ("requests given up", str(len(report.gave_up))),
        ("wall time", f"{report.seconds:.0f} s"),
    ]
    width = max(len(name) for name, _ in rows)
    values = max(len(value) for _, value in rows)
    lines = [f"| {'soak':<{width}} | {'':<{values}} |", f"|{'-' * (width + 2)}|{'-' * (values + 2)}|"]
    lines += [f"| {name:<{width}} | {value:<{values}} |" for name, value in rows]
    return "\n".join(lines)


def _latencies(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{_percentile(values, 50):.1f} s / {_percentile(values, 95):.1f} s"


def details(report: Report) -> str:
    lines = []
    for title, items in (
        ("lost", report.lost),
        ("unknown", [f"{job_id} ({status})" for job_id, status in report.unknown.items()]),
        ("duplicated", [f"{k}: {v}" for k, v in report.duplicated.items()]),
        ("missing", [f"{k}: {v}" for k, v in report.missing.items()]),
        ("callbacks", report.callback_problems),
        ("gave up", report.gave_up),
    ):
        if items:
            lines.append(f"{title}: " + "; ".join(items[:20]) + (" …" if len(items) > 20 else ""))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults = Options()
    parser.add_argument("--jobs", type=int, default=defaults.jobs)
    parser.add_argument("--clients", type=int, default=defaults.clients)
    parser.add_argument("--seed", type=int, default=defaults.seed, help="for the mix of jobs and the faults")
    parser.add_argument("--faults", default=defaults.faults, help=f"IMAGEJOBS_FAULTS ('' for none; default {FAULTS})")
    parser.add_argument(
        "--timeout",
        type=float,
        default=defaults.timeout,
        help="seconds to make jobs and wait for them; the checks then wait 90 s at most for the last ones",
    )
    parser.add_argument("--down", type=float, default=defaults.down, help="seconds the callback receiver is down")
    parser.add_argument("--log", type=Path, help="the stack's log (default: a new temporary file)")
    args = parser.parse_args()
    report = run(Options(args.jobs, args.clients, args.seed, args.faults, args.timeout, args.down, args.log))
    print(table(report))
    if not report.ok:
        print(details(report))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
