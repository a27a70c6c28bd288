"""Connected buckets in a job: its `s3` source and its outputs' destinations, checked against the
tenant's grants and the key rules when the job is made, and read and written when it runs.

When it is made, all that is known of a key is filled in (the metadata, the source's key or file
name, the output's name and, but for `auto`, its extension); what is not (`{job_id}`, `{width}`,
`{height}`, `{ext}` of `auto`) is taken at its longest for the length. The fixed part, up to the first
placeholder not known, must lie under a prefix the tenant may write, and no two outputs may make
the same key.

When it runs, every key is filled in and checked again (grants may have been revoked meanwhile),
and what is at each key is looked at before anything is written: an `if_exists: fail` destination
that holds another object fails the job with nothing written. Then each is written, conditionally
when it must not replace another object. A write S3 refuses fails the job (`destination_write_failed`,
saying which were written before it), and the job reports no outputs: never a success with some
missing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from imagejobs.deadline import Deadline
from imagejobs.errors import (
    DeadlineExceededError,
    DestinationExistsError,
    DestinationWriteFailedError,
    RequestValidationError,
)
from imagejobs.ids import new_id
from imagejobs.services.grants import Grants
from imagejobs.settings import get_settings
from imagejobs.spec import keys
from imagejobs.spec.formats import FORMATS, page_ranges
from imagejobs.spec.outputs import Destination, Output
from imagejobs.spec.requests import JobRequest
from imagejobs.store import buckets
from imagejobs.store.records import JobRecord


class Rendered(Protocol):
    """What is written of a rendered output (`imagejobs.engine.Rendered`: the engine, and pyvips with
    it, is loaded only by the functions that render)."""

    @property
    def name(self) -> str: ...
    @property
    def page(self) -> int | None: ...
    @property
    def extension(self) -> str: ...
    @property
    def width(self) -> int: ...
    @property
    def height(self) -> int: ...
    @property
    def data(self) -> bytes: ...
    @property
    def content_type(self) -> str: ...


WRITTEN, SKIPPED = "written", "skipped"
_LONGEST_EXTENSION = max((len(f.extension) for f in FORMATS.values() if f.write and f.extensions), default=4)
_MOST_PAGE_DIGITS = 5
_A_JOB_ID = new_id("job")  # every job id is as long


def several_pages(pages: str | None) -> bool:
    """Whether a `pages` selection may give more than one page (each output then once per page)."""
    ranges = page_ranges(pages) if pages else [(1, 1)]
    return len(ranges) > 1 or any(last is None or last > first for first, last in ranges)


def check_request(tenant_id: str, request: JobRequest, source_name: str | None) -> None:
    """Refuses (422, naming the field) a job whose `s3` source or destinations its tenant may not
    use, or whose keys would be invalid or the same. `source_name`: the source's key or file name."""
    source = request.source.s3
    if source is None and not any(output.destination for output in request.outputs):
        return
    grants = Grants(tenant_id)
    if source is not None:
        grants.check("read", source.bucket, source.key, "source.s3")
    known = keys.metadata_values(request.metadata)
    if source_name is not None:
        known |= keys.source_values(source_name)
    paged = several_pages(request.source.pages)
    made: dict[tuple[str, str], str] = {}
    for index, output in enumerate(request.outputs):
        if output.destination is None:
            continue
        path = f"outputs[{index}].destination"
        destination = output.destination
        template = keys.KeyTemplate.parse(destination.key)
        _check_placeholders(template, path, known, paged, has_source_name=source_name is not None)
        values = {**known, **_output_values(output, paged)}
        try:
            keys.check_key(template.fill({**_longest(output.name, paged), **values}))
        except keys.InvalidKeyError as error:
            raise RequestValidationError.at(f"{path}.key", f"filled in, it {error}") from error
        prefix = template.prefix(values)
        grants.check("write", destination.bucket, prefix, path, f"under {prefix!r}, where this key starts")
        # What tells two keys apart before the job runs: a page's name is the output's and its number.
        told = {**values, "name": f"{output.name}-p{{page}}"} if paged else values
        same = made.setdefault((destination.bucket, template.fill(told)), f"outputs[{index}]")
        if same != f"outputs[{index}]":
            message = f"makes the same key as {same}.destination.key: add {{name}} to tell them apart"
            raise RequestValidationError.at(f"{path}.key", message)


def _check_placeholders(
    template: keys.KeyTemplate, path: str, known: Mapping[str, str], paged: bool, *, has_source_name: bool
) -> None:
    path = f"{path}.key"
    for name in sorted(template.placeholders):
        if name in keys.SOURCE_PLACEHOLDERS and not has_source_name:
            raise RequestValidationError.at(path, f"{{{name}}} needs an s3 or upload source")
        if name.startswith(keys.METADATA) and name not in known:
            field = name.removeprefix(keys.METADATA)
            raise RequestValidationError.at(path, f"{{{name}}}: metadata has no string, number or boolean {field!r}")
    if paged and "name" not in template.placeholders:
        raise RequestValidationError.at(path, "the source may give several pages, an output each: the key needs {name}")


def _output_values(output: Output, paged: bool) -> dict[str, str]:
    """What is known of an output's placeholders before it is rendered."""
    values = {} if paged else {"name": output.name}
    if output.format != "auto":
        values["ext"] = FORMATS[output.format].extension
    return values


def _longest(name: str, paged: bool) -> dict[str, str]:
    """The longest values what is not known yet can take."""
    side = "9" * len(str(get_settings().keyed.max_output_dimension))
    return {
        "job_id": _A_JOB_ID,
        "name": f"{name}-p{'9' * _MOST_PAGE_DIGITS}" if paged else name,
        "ext": "x" * _LONGEST_EXTENSION,
        "width": side,
        "height": side,
    }


# ---- when the job runs ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Write:
    """One output to write to its destination, and what was at its key when looked at."""

    path: str
    destination: Destination
    key: str
    rendered: Rendered
    found: buckets.Existing | None

    @property
    def uri(self) -> str:
        return keys.s3_uri(self.destination.bucket, self.key)


def plan(job: JobRecord, rendered: Sequence[Rendered], source_name: str | None) -> list[Write]:
    """The writes the job's rendered outputs make: keys filled in, grants checked again, and what is
    at each key looked at. Raises the job's error before anything is written."""
    destined = {
        output.name: (f"outputs[{index}].destination", output.destination)
        for index, output in enumerate(job.request.outputs)
        if output.destination is not None
    }
    grants: Grants | None = None
    common: dict[str, str] = {"job_id": job.id, **keys.metadata_values(job.request.metadata)}
    if source_name is not None:
        common |= keys.source_values(source_name)
    writes: list[Write] = []
    for output in rendered:
        found = destined.get(output.name if output.page is None else output.name.rpartition("-p")[0])
        if found is None:
            continue
        path, destination = found
        values = {**common, "name": output.name, "ext": output.extension}
        values |= {"width": str(output.width), "height": str(output.height)}
        try:
            key = keys.KeyTemplate.parse(destination.key).render(values)
        except keys.InvalidKeyError as error:
            raise DestinationWriteFailedError(f"{path}.key: filled in, it {error}; nothing was written") from error
        grants = grants or Grants(job.tenant_id)
        grants.require("write", destination.bucket, key, path)
        writes.append(Write(path, destination, key, output, None))
    _no_two_alike(writes)
    return [_look(job.id, write) for write in writes]


def _no_two_alike(writes: list[Write]) -> None:
    seen: dict[str, Write] = {}
    for write in writes:
        other = seen.setdefault(write.uri, write)
        if other is not write:
            raise DestinationWriteFailedError(
                f"{other.path} and {write.path} both make {write.uri} (outputs {other.rendered.name} and "
                f"{write.rendered.name}); nothing was written"
            )


def _look(job_id: str, write: Write) -> Write:
    """The write with what is at its key; fails the job if that must not be replaced."""
    try:
        found = buckets.head(write.destination.bucket, write.key)
    except buckets.WriteRefusedError as error:
        raise DestinationWriteFailedError(f"{write.path}: S3 refused to show {write.uri} ({error.code})") from error
    if found is not None and found.job_id != job_id and write.destination.if_exists == "fail":
        raise DestinationExistsError(f"{write.path}: {write.uri} already exists; nothing was written")
    return Write(write.path, write.destination, write.key, write.rendered, found)


def write_all(job_id: str, writes: Sequence[Write], deadline: Deadline) -> dict[str, tuple[str, str]]:
    """Writes each output to its destination: rendered name -> (s3://bucket/key, written or skipped)."""
    done: dict[str, tuple[str, str]] = {}
    for write in writes:
        try:
            deadline.check(f"write {write.uri}")
        except DeadlineExceededError as error:
            raise DeadlineExceededError(f"{error.message}{_before(done)}") from error
        done[write.rendered.name] = (write.uri, _write(job_id, write, done))
    return done


def _write(job_id: str, write: Write, done: Mapping[str, tuple[str, str]]) -> str:
    found, if_exists = write.found, write.destination.if_exists
    ours = found is not None and found.job_id == job_id
    if found is not None and not ours and if_exists == "skip":
        return SKIPPED
    guarded = if_exists != "overwrite"
    try:
        buckets.put(
            write.destination.bucket,
            write.key,
            write.rendered.data,
            content_type=write.rendered.content_type,
            cache_control=write.destination.cache_control,
            job_id=job_id,
            if_absent=guarded and found is None,
            if_match=found.etag if guarded and found is not None else None,
        )
    except buckets.PreconditionFailedError as error:
        if if_exists == "skip":
            return SKIPPED
        message = f"{write.path}: {write.uri} appeared while it was written{_before(done)}"
        raise DestinationExistsError(message) from error
    except buckets.WriteRefusedError as error:
        raise DestinationWriteFailedError(
            f"{write.path}: S3 refused to write {write.uri} ({error.code}){_before(done)}"
        ) from error
    return WRITTEN


def _before(done: Mapping[str, tuple[str, str]]) -> str:
    written = [uri for uri, status in done.values() if status == WRITTEN]
    return f"; written before it: {', '.join(written)}" if written else "; nothing was written"
