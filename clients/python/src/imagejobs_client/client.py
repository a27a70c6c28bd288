"""`Client`: the imagejobs API from Python.

    with Client() as client:                      # IMAGEJOBS_URL, IMAGEJOBS_API_KEY, or the config file
        result = client.run("photo.heic", preset="og-image", out="out/")
        print(result.files["og-image"])           # out/og-image.jpg

Every request the API may safely see twice is retried: a 429 after its `Retry-After`, and a lost
connection or a 502/503/504 with growing delays, for GET and DELETE and for the POSTs that carry an
`Idempotency-Key` (the client makes one for every job and batch it creates, so a retried request
answers the first job again rather than making a second one).
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import httpx

from imagejobs_client import errors
from imagejobs_client._version import __version__
from imagejobs_client.config import Config, load
from imagejobs_client.models import Batch, BatchCreated, FailedJob, Job, JobPage, Output, UploadForm

# What create_job and run take as a source: a local file (a path), "upl_…" (an earlier upload),
# "https://…" (a URL the service fetches), or the API's own source object.
SourceLike = str | os.PathLike[str] | Mapping[str, Any]

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "DELETE", "PUT"})
RETRY_STATUSES = frozenset({502, 503, 504})
CONNECT_RETRIES = 2  # a refused connection is tried again this often: more is a stack that is not running
LONGEST_POLL = 20  # seconds: the most `GET /v1/jobs/{id}?wait=` holds a request
_S3_ERROR = re.compile(r"<Code>(?P<code>[^<]*)</Code>.*?<Message>(?P<message>[^<]*)</Message>", re.DOTALL)


@dataclass(frozen=True)
class RunResult:
    job: Job
    files: dict[str, Path]  # each output's name -> where it was saved


@dataclass(frozen=True)
class BatchResult:
    batch: Batch
    jobs: tuple[Job, ...]  # in the order of the sources; failed ones have `error`
    files: dict[str, dict[str, Path]]  # job id -> (output name -> where it was saved)


def labels(sources: Sequence[SourceLike]) -> list[str]:
    """A folder name per source for its outputs: the stem of its file, URL, S3 key or upload id, or
    its whole name when stems repeat (photo.jpg and photo.heic). ValueError when names repeat too."""
    found = []
    for source in sources:
        if isinstance(source, Mapping):
            text = str(source.get("upload_id") or source.get("url") or (source.get("s3") or {}).get("key") or "")
        else:
            text = os.fspath(source)
        found.append(Path(urlsplit(text).path if text.startswith(("https://", "http://")) else text))
    stems = [path.stem for path in found]
    names = [path.stem if stems.count(path.stem) == 1 else path.name for path in found]
    repeated = sorted({name for name in names if names.count(name) > 1 or not name})
    if repeated:
        raise ValueError(f"sources would share the output folder {', '.join(map(repr, repeated))}: rename one")
    return names


class Client:
    """The imagejobs API. Settings not given here come from the environment or the config file
    (see `imagejobs_client.config`). Safe to share between threads."""

    def __init__(
        self,
        url: str | None = None,
        api_key: str | None = None,
        *,
        config_path: str | os.PathLike[str] | None = None,
        timeout: float = 30.0,
        max_retries: int = 5,
        max_retry_after: float = 60.0,
        poll_wait: int = LONGEST_POLL,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.config: Config = load(url, api_key, path=config_path)
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_retry_after = max_retry_after  # a 429 asking for longer is raised, not waited out
        self.poll_wait = min(poll_wait, LONGEST_POLL)
        agent = {"User-Agent": f"imagejobs-client/{__version__}"}
        key = {"X-API-Key": self.config.api_key} if self.config.api_key else {}
        self._api = httpx.Client(
            base_url=self.config.url + "/", headers=agent | key, timeout=timeout, transport=transport
        )
        # Presigned URLs point at storage, which must not see the API key.
        self._storage = httpx.Client(headers=agent, timeout=timeout, transport=transport)
        self._formats: list[dict[str, Any]] | None = None

    def close(self) -> None:
        self._api.close()
        self._storage.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    # The catalogues and health: public, machine-readable.

    def health(self) -> dict[str, Any]:
        return dict(self._call("GET", "health").json())

    def formats(self) -> list[dict[str, Any]]:
        """`GET /v1/formats` (kept after the first call)."""
        if self._formats is None:
            self._formats = list(self._call("GET", "formats").json()["formats"])
        return self._formats

    def operations(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "operations").json()["operations"])

    def presets(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "presets").json()["presets"])

    def output_options(self) -> set[str]:
        """The output fields that are encoding options, not operations (quality, lossless, …)."""
        return {option for entry in self.formats() for option in entry.get("options", ())}

    def content_type_for(self, filename: str) -> str:
        """The content type the API expects for a file of this name, from the formats catalogue."""
        extension = PurePosixPath(filename.lower()).suffix.lstrip(".")
        for entry in self.formats():
            if entry.get("read") and extension in entry.get("extensions", ()):
                return str(entry["content_types"][0])
        readable = sorted(e for entry in self.formats() if entry.get("read") for e in entry.get("extensions", ()))
        raise ValueError(f"{filename}: no readable format has the extension {extension!r} ({', '.join(readable)})")

    # Uploads

    def upload(self, path: str | os.PathLike[str], *, content_type: str | None = None) -> UploadForm:
        """Sends a local image to storage with a presigned form; its `upload_id` is then a job's source."""
        file = Path(path)
        kind = content_type or self.content_type_for(file.name)
        body = {"filename": file.name, "content_type": kind, "size_bytes": file.stat().st_size}
        form = UploadForm.from_json(self._call("POST", "uploads", json=body).json())
        self._send_form(form, file, kind)
        return form

    def _send_form(self, form: UploadForm, file: Path, content_type: str) -> None:
        def send() -> httpx.Response:
            with file.open("rb") as handle:  # opened again on every attempt
                return self._storage.post(form.url, data=form.fields, files={"file": (file.name, handle, content_type)})

        response = self._retrying(send, idempotent=True)
        if response.is_error:
            raise _storage_error("upload", response)

    # Jobs

    def create_job(
        self,
        source: SourceLike,
        *,
        outputs: Sequence[Mapping[str, Any]] | None = None,
        preset: str | None = None,
        callback_url: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        ttl_seconds: int | None = None,
        pages: str | None = None,
        dpi: int | None = None,
        content_type: str | None = None,
        analysis: bool | Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Job:
        """`POST /v1/jobs`. A local file is sent in the same call: the job carries its own upload form,
        the client sends the file with it, and the job starts when it lands. Give `outputs` or
        `preset`; `analysis` (True, or `{"gps": True}`) asks for `Job.analysis`; `extra` adds fields
        of the request the client does not name. The Idempotency-Key is a new one per call unless given."""
        source_object, file = self._source(source, pages, dpi, content_type)
        body: dict[str, Any] = {"source": source_object}
        optional = {
            "outputs": [dict(output) for output in outputs] if outputs is not None else None,
            "preset": preset,
            "callback_url": callback_url,
            "metadata": dict(metadata) if metadata is not None else None,
            "ttl_seconds": ttl_seconds,
            "analysis": dict(analysis) if isinstance(analysis, Mapping) else analysis,
        }
        body |= {key: value for key, value in optional.items() if value is not None} | dict(extra or {})
        key = idempotency_key or str(uuid.uuid4())
        job = Job.from_json(self._call("POST", "jobs", json=body, idempotency_key=key).json())
        if file is not None:
            if job.upload is None:
                raise errors.ImageJobsError(f"job {job.id} came without the upload form its source asked for")
            self._send_form(job.upload, file, source_object["upload"]["content_type"])
        return job

    def _source(
        self, source: SourceLike, pages: str | None, dpi: int | None, content_type: str | None
    ) -> tuple[dict[str, Any], Path | None]:
        file = None
        if isinstance(source, Mapping):
            found = dict(source)
        elif isinstance(source, str) and source.startswith(("https://", "http://")):
            found = {"url": source}
        elif isinstance(source, str) and source.startswith("upl_"):
            found = {"upload_id": source}
        else:
            file = Path(source)
            kind = content_type or self.content_type_for(file.name)
            found = {"upload": {"filename": file.name, "content_type": kind, "size_bytes": file.stat().st_size}}
        return found | {key: value for key, value in (("pages", pages), ("dpi", dpi)) if value is not None}, file

    def get_job(self, job_id: str, *, wait: int | None = None) -> Job:
        """`GET /v1/jobs/{id}`, with fresh download links; `wait` (≤ 20 s) asks the API to answer
        when the job ends, if it can."""
        params = {"wait": wait} if wait else None
        timeout = httpx.Timeout(self.timeout + (wait or 0))
        return Job.from_json(self._call("GET", f"jobs/{job_id}", params=params, timeout=timeout).json())

    def wait_for_job(self, job_id: str, *, timeout: float = 600.0) -> Job:
        """The job once it has ended (succeeded or failed). Each poll asks the API to hold the request
        until then (`?wait=`); an API that answers at once is polled with growing delays."""
        deadline = time.monotonic() + timeout
        delay = 0.2
        while True:
            wait = int(min(self.poll_wait, max(0.0, deadline - time.monotonic())))
            asked = time.monotonic()
            job = self.get_job(job_id, wait=wait or None)
            if job.finished:
                return job
            left = deadline - time.monotonic()
            if left <= 0:
                raise errors.WaitTimeoutError(f"job {job_id}", job.status, timeout)
            if time.monotonic() - asked < wait / 2:  # it did not hold the request: no long-poll here
                time.sleep(min(delay, left))
                delay = min(delay * 1.5, 5.0)

    def list_jobs(self, *, status: str | None = None, limit: int | None = None, cursor: str | None = None) -> JobPage:
        """One page of the tenant's jobs, newest first."""
        params = {key: value for key, value in (("status", status), ("limit", limit), ("cursor", cursor)) if value}
        return JobPage.from_json(self._call("GET", "jobs", params=params).json())

    def iter_jobs(self, *, status: str | None = None, page_size: int | None = None) -> Iterator[Job]:
        """Every job of the tenant, newest first, following the cursor page after page."""
        cursor = None
        while True:
            page = self.list_jobs(status=status, limit=page_size, cursor=cursor)
            yield from page.jobs
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def retry_job(self, job_id: str) -> Job:
        """`POST /v1/jobs/{id}/retry`: runs a failed job again (a ConflictError for any other)."""
        return Job.from_json(self._call("POST", f"jobs/{job_id}/retry").json())

    def delete_job(self, job_id: str) -> None:
        """`DELETE /v1/jobs/{id}`: the job and its stored images, now."""
        self._call("DELETE", f"jobs/{job_id}")

    # Results

    def download(self, output: Output, path: str | os.PathLike[str]) -> Path:
        """Saves one output (through its presigned link) at `path`."""
        return self._save(output.url, Path(path))

    def _save(self, url: str, target: Path) -> Path:
        partial = target.with_name(target.name + ".part")

        def fetch() -> httpx.Response:
            with self._storage.stream("GET", url) as response:
                if response.is_error:
                    response.read()
                    return response
                with partial.open("wb") as file:
                    for chunk in response.iter_bytes():
                        file.write(chunk)
                return response

        response = self._retrying(fetch, idempotent=True)
        if response.is_error:
            partial.unlink(missing_ok=True)
            raise _storage_error("download", response)
        partial.replace(target)
        return target

    def download_outputs(self, job: Job, directory: str | os.PathLike[str]) -> dict[str, Path]:
        """Saves every output of a succeeded job as `directory/<name>.<extension>`."""
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        return {output.name: self.download(output, folder / output.filename) for output in job.outputs}

    def run(
        self,
        source: SourceLike,
        *,
        outputs: Sequence[Mapping[str, Any]] | None = None,
        preset: str | None = None,
        out: str | os.PathLike[str] = ".",
        timeout: float = 600.0,
        **options: Any,
    ) -> RunResult:
        """Creates the job (uploading a local file in the same call), waits for it and saves its
        outputs in `out`. A failed job raises JobFailedError with its code. `options` are
        create_job's (callback_url, metadata, ttl_seconds, pages, dpi, analysis, idempotency_key, extra)."""
        created = self.create_job(source, outputs=outputs, preset=preset, **options)
        job = self.wait_for_job(created.id, timeout=timeout)
        if job.status == "failed":
            raise errors.JobFailedError(job)
        return RunResult(job, self.download_outputs(job, out))

    # Batches

    def create_batch(
        self,
        jobs: Sequence[Mapping[str, Any]],
        *,
        callback_url: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> BatchCreated:
        """`POST /v1/batches`: up to 100 job bodies, made all or none (a bad one is a 422 naming `jobs[i]…`)."""
        body: dict[str, Any] = {"jobs": [dict(job) for job in jobs]}
        if callback_url is not None:
            body["callback_url"] = callback_url
        if metadata is not None:
            body["metadata"] = dict(metadata)
        key = idempotency_key or str(uuid.uuid4())
        return BatchCreated.from_json(self._call("POST", "batches", json=body, idempotency_key=key).json())

    def create_prefix_batch(
        self,
        bucket: str,
        prefix: str = "",
        *,
        outputs: Sequence[Mapping[str, Any]] | None = None,
        preset: str | None = None,
        suffixes: Sequence[str] | None = None,
        callback_url: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        ttl_seconds: int | None = None,
        idempotency_key: str | None = None,
    ) -> BatchCreated:
        """`POST /v1/batches` with `source.s3_prefix`: one job per object under the prefix of a
        connected bucket (keys ending with one of `suffixes`, when given), made as the stack lists them."""
        source: dict[str, Any] = {"bucket": bucket, "prefix": prefix}
        if suffixes is not None:
            source["suffixes"] = list(suffixes)
        body: dict[str, Any] = {"source": {"s3_prefix": source}}
        if outputs is not None:
            body["outputs"] = [dict(output) for output in outputs]
        optional = {"preset": preset, "callback_url": callback_url, "ttl_seconds": ttl_seconds}
        body.update({name: value for name, value in optional.items() if value is not None})
        if metadata is not None:
            body["metadata"] = dict(metadata)
        key = idempotency_key or str(uuid.uuid4())
        return BatchCreated.from_json(self._call("POST", "batches", json=body, idempotency_key=key).json())

    def get_batch(self, batch_id: str, *, failed_cursor: str | None = None) -> Batch:
        """The batch; `failed_cursor` (a `Batch.next_failed_cursor`) asks for the next page of its failed jobs."""
        params = {"failed_cursor": failed_cursor} if failed_cursor else None
        return Batch.from_json(self._call("GET", f"batches/{batch_id}", params=params).json())

    def iter_failed_jobs(self, batch_id: str) -> Iterator[FailedJob]:
        """Every failed job of the batch, with its error (and its object's key, in a prefix batch), page by page."""
        batch = self.get_batch(batch_id)
        while True:
            yield from batch.failed_jobs
            if batch.next_failed_cursor is None:
                return
            batch = self.get_batch(batch_id, failed_cursor=batch.next_failed_cursor)

    def retry_batch(self, batch_id: str) -> Batch:
        """`POST /v1/batches/{id}/retry`: its failed jobs run again; it completes again once they have ended."""
        return Batch.from_json(self._call("POST", f"batches/{batch_id}/retry").json())

    def wait_for_batch(
        self, batch_id: str, *, timeout: float = 600.0, on_update: Callable[[Batch], None] | None = None
    ) -> Batch:
        """The batch once every job has ended; `on_update` sees each poll's answer (for progress)."""
        deadline = time.monotonic() + timeout
        delay = 0.2
        while True:
            batch = self.get_batch(batch_id)
            if on_update is not None:
                on_update(batch)
            if batch.finished:
                return batch
            left = deadline - time.monotonic()
            if left <= 0:
                raise errors.WaitTimeoutError(f"batch {batch_id}", batch.status, timeout)
            time.sleep(min(delay, left))
            delay = min(delay * 1.5, 3.0)

    def run_batch(
        self,
        sources: Sequence[SourceLike],
        *,
        outputs: Sequence[Mapping[str, Any]] | None = None,
        preset: str | None = None,
        out: str | os.PathLike[str] | None = ".",
        callback_url: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        timeout: float = 600.0,
        concurrency: int = 4,
        on_update: Callable[[Batch], None] | None = None,
    ) -> BatchResult:
        """Uploads the local files, makes one batch of a job per source, waits for it and (unless
        `out` is None) saves each succeeded job's outputs in `out/<source stem>/`. Failed jobs are in
        the result with their `error`; nothing is raised for them."""
        names = labels(sources)
        spec = {"outputs": [dict(o) for o in outputs]} if outputs is not None else {"preset": preset}
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            objects = list(pool.map(self._batch_source, sources))
            created = self.create_batch(
                [{"source": source} | spec for source in objects], callback_url=callback_url, metadata=metadata
            )
            batch = self.wait_for_batch(created.batch_id, timeout=timeout, on_update=on_update)
            jobs = tuple(pool.map(self.get_job, created.job_ids))
            files: dict[str, dict[str, Path]] = {}
            if out is not None:
                succeeded = [(job, name) for job, name in zip(jobs, names, strict=True) if job.status == "succeeded"]
                saved = pool.map(lambda pair: self.download_outputs(pair[0], Path(out) / pair[1]), succeeded)
                files = {job.id: paths for (job, _), paths in zip(succeeded, saved, strict=True)}
        return BatchResult(batch, jobs, files)

    def _batch_source(self, source: SourceLike) -> dict[str, Any]:
        found, file = self._source(source, None, None, None)
        if file is None:
            return found
        return {"upload_id": self.upload(file, content_type=found["upload"]["content_type"]).upload_id}

    def download_batch_archive(
        self, batch_id: str, path: str | os.PathLike[str], *, timeout: float = 600.0
    ) -> Path | None:
        """Saves the ZIP the API builds of a batch's outputs (`POST /v1/batches/{id}/archive`, then
        its status until it has a link) at `path`; None when this API does not build archives."""
        try:
            archive = self._call("POST", f"batches/{batch_id}/archive").json()
        except errors.NotFoundError:
            self.get_batch(batch_id)  # raises NotFoundError itself when it is the batch that is missing
            return None
        deadline = time.monotonic() + timeout
        delay = 0.5
        while not archive.get("url"):
            if archive.get("status") == "failed":
                raise errors.ImageJobsError(f"the archive of batch {batch_id} failed: {archive.get('error')}")
            if time.monotonic() > deadline:
                raise errors.WaitTimeoutError(f"the archive of batch {batch_id}", str(archive.get("status")), timeout)
            time.sleep(delay)
            delay = min(delay * 1.5, 5.0)
            archive = self._call("GET", f"batches/{batch_id}/archive").json()
        return self._save(str(archive["url"]), Path(path))

    # Requests

    def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        timeout: httpx.Timeout | None = None,
    ) -> httpx.Response:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}

        def send() -> httpx.Response:
            return self._api.request(
                method,
                path,
                json=json,
                params=params,
                headers=headers,
                timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
            )

        response = self._retrying(send, idempotent=method in IDEMPOTENT_METHODS or idempotency_key is not None)
        if response.is_error:
            raise errors.from_response(response)
        return response

    def _retrying(self, send: Callable[[], httpx.Response], *, idempotent: bool) -> httpx.Response:
        """`send()`'s response, sent again after a 429 (when its Retry-After is not too long), and
        after a lost connection or a 502/503/504 when the request is safe to repeat."""
        for attempt in range(self.max_retries + 1):
            last = attempt == self.max_retries
            backoff = min(0.25 * 2**attempt, 8.0)
            try:
                response = send()
            except (httpx.ConnectError, httpx.ConnectTimeout) as error:  # never reached the server
                if last or attempt >= CONNECT_RETRIES:
                    raise errors.TransportError(f"nothing answers at {_where(error)}: {error}") from error
                time.sleep(backoff)
                continue
            except httpx.TransportError as error:
                if last or not idempotent:
                    raise errors.TransportError(f"{_where(error)}: {error!r}") from error
                time.sleep(backoff)
                continue
            if response.status_code == 429 and not last:
                wait = errors.retry_after(response)
                if wait is None or wait <= self.max_retry_after:
                    time.sleep(backoff if wait is None else wait)
                    continue
            elif response.status_code in RETRY_STATUSES and idempotent and not last:
                time.sleep(backoff)
                continue
            return response
        raise AssertionError("unreachable: the last attempt returns or raises")


def _where(error: httpx.TransportError) -> str:
    try:
        return str(error.request.url.copy_with(query=None))
    except RuntimeError:  # an error raised before a request was made
        return "the API"


def _storage_error(action: str, response: httpx.Response) -> errors.StorageError:
    match = _S3_ERROR.search(response.text)
    if match is None:
        return errors.StorageError(action, response.status_code, "http_error", response.text.strip()[:200])
    return errors.StorageError(action, response.status_code, match["code"], match["message"])
