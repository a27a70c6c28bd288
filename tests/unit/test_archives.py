"""Archives without AWS: the ZIP written to a sink that cannot seek (as a multipart upload is),
ZIP64 past 65,535 entries, entry names that cannot escape their folder, and the records' moves."""

from __future__ import annotations

import io
import subprocess
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from imagejobs.deadline import Deadline
from imagejobs.errors import DeadlineExceededError
from imagejobs.services import archives
from imagejobs.spec.documents import SourceDocument
from imagejobs.store.records import ArchiveRecord, IllegalTransitionError, JobRecord, StoredOutput, StoredRequest

STAMP = datetime(2026, 5, 4, 3, 2, 1, tzinfo=UTC)


class Unseekable:
    """Write-only, as S3's multipart upload is: no tell, no seek."""

    def __init__(self) -> None:
        self.written = io.BytesIO()

    def write(self, data: bytes) -> int:
        return self.written.write(data)

    def flush(self) -> None:
        pass


def test_more_than_65535_entries_make_a_zip64_archive_that_unzip_accepts(tmp_path: Path) -> None:
    sink = Unseekable()
    count = 70_000
    archives.write_zip(
        sink, ((f"e{index}.txt", [b"%d" % index]) for index in range(count)), STAMP, Deadline.unlimited()
    )

    data = sink.written.getvalue()
    assert b"PK\x06\x06" in data[-200:]  # the ZIP64 end of central directory record
    with zipfile.ZipFile(io.BytesIO(data)) as opened:
        assert len(opened.infolist()) == count
        assert opened.read("e69999.txt") == b"69999"
        assert opened.getinfo("e0.txt").date_time == (2026, 5, 4, 3, 2, 0)  # DOS time: even seconds
    path = tmp_path / "many.zip"
    path.write_bytes(data)
    checked = subprocess.run(["unzip", "-tq", str(path)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout[-500:] + checked.stderr
    assert "No errors detected" in checked.stdout


def test_an_entry_arriving_in_chunks_is_whole() -> None:
    sink = Unseekable()
    chunks = [bytes([index]) * 1000 for index in range(256)]
    archives.write_zip(sink, [("big.bin", iter(chunks))], STAMP, Deadline.unlimited())
    with zipfile.ZipFile(io.BytesIO(sink.written.getvalue())) as opened:
        assert opened.read("big.bin") == b"".join(chunks)
        assert opened.testzip() is None


def test_the_time_running_out_stops_the_archive_between_chunks() -> None:
    remaining = iter([60_000, 60_000, 0])
    with pytest.raises(DeadlineExceededError):
        archives.write_zip(
            Unseekable(), [("a.png", [b"1", b"2", b"3"])], STAMP, Deadline(lambda: next(remaining), reserve_ms=1000)
        )


def job_with(name: str, key: str) -> JobRecord:
    created = datetime(2026, 1, 1, tzinfo=UTC)
    return JobRecord(
        tenant_id="ten_1",
        id="job_01M7YA9N5BT8MD9QV08S0WDDEP",
        status="succeeded",
        created_at=created,
        expires_at=created + timedelta(days=1),
        source=SourceDocument(upload_id="upl_1"),
        request=StoredRequest(outputs=[]),
        outputs=[StoredOutput(name=name, format="png", width=1, height=1, bytes=1, key=key, content_type="image/png")],
    )


@pytest.mark.parametrize(
    ("name", "extension", "entry"),
    [
        ("thumb", "webp", "folder/thumb.webp"),
        ("../../etc/passwd", "png", "folder/_.._etc_passwd.png"),
        ("/abs", "png", "folder/_abs.png"),
        ("..", "png", "folder/_.png"),
        ("a\\b:c", "p/../g", "folder/a_b_c._g"),
    ],
)
def test_entry_names_never_leave_their_folder(name: str, extension: str, entry: str) -> None:
    ((found, _key),) = archives.job_entries(job_with(name, f"outputs/ten_1/job_1/{name}.{extension}"), "folder")
    assert found == entry
    assert found.count("/") == 1
    assert ".." not in found.split("/")


def test_an_archive_moves_only_forward() -> None:
    created = datetime(2026, 1, 1, tzinfo=UTC)
    archive = ArchiveRecord(tenant_id="t", id="job_1", kind="job", created_at=created, expires_at=created)
    building = archive.building()
    assert building.building().status == "building"  # a redelivered build starts again
    ready = building.ready(3, 1234)
    assert (ready.status, ready.entries, ready.bytes, ready.finished) == ("ready", 3, 1234, True)
    with pytest.raises(IllegalTransitionError):
        ready.failed("internal", "late")
    with pytest.raises(IllegalTransitionError):
        archive.ready(1, 1)  # never without being built
    failed = building.failed("source_not_found", "gone")
    assert failed.error is not None and failed.error.code == "source_not_found"
    with pytest.raises(IllegalTransitionError):
        failed.building()
