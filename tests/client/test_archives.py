"""Batch archives: the API's own ZIP when it builds them (`POST /v1/batches/{id}/archive`, then its
status until it has a link), and None when the API has no such route, so the caller zips locally."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from imagejobs_client import Client, NotFoundError
from tests.client.conftest import FakeAPI, Reply

NO_ROUTE = Reply(404, {"error": {"code": "not_found", "message": "no such route", "details": []}})
BATCH = {
    "id": "bat_1",
    "status": "completed",
    "created_at": "2026-01-01T00:00:00Z",
    "expires_at": "2026-01-02T00:00:00Z",
    "counts": {"total": 1, "succeeded": 1},
    "jobs": [{"id": "job_1", "status": "succeeded"}],
}


def a_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("photo/og-image.jpg", b"\xff\xd8\xff jpeg bytes")
    return buffer.getvalue()


def test_the_apis_archive_is_waited_for_and_saved(fake_api: FakeAPI, tmp_path: Path) -> None:
    link = f"{fake_api.url}/storage/bat_1.zip"
    fake_api.replies["POST /v1/batches/bat_1/archive"] = [Reply(202, {"status": "building"})]
    fake_api.replies["GET /v1/batches/bat_1/archive"] = [
        Reply(200, {"status": "building"}),
        Reply(200, {"status": "succeeded", "url": link}),
    ]
    fake_api.replies["GET /v1/storage/bat_1.zip"] = [Reply(200, a_zip(), {"Content-Type": "application/zip"})]

    with Client(fake_api.url, "ij_test") as client:
        saved = client.download_batch_archive("bat_1", tmp_path / "bat_1.zip", timeout=30)

    assert saved == tmp_path / "bat_1.zip"
    with zipfile.ZipFile(saved) as archive:
        assert archive.namelist() == ["photo/og-image.jpg"]
    assert "x-api-key" not in fake_api.seen[-1].headers


def test_an_api_without_archives_answers_none(fake_api: FakeAPI, tmp_path: Path) -> None:
    fake_api.replies["POST /v1/batches/bat_1/archive"] = [NO_ROUTE]
    fake_api.replies["GET /v1/batches/bat_1"] = [Reply(200, BATCH)]

    with Client(fake_api.url, "ij_test") as client:
        assert client.download_batch_archive("bat_1", tmp_path / "bat_1.zip") is None

    assert not (tmp_path / "bat_1.zip").exists()


def test_a_missing_batch_is_not_mistaken_for_a_missing_route(fake_api: FakeAPI, tmp_path: Path) -> None:
    fake_api.replies["POST /v1/batches/bat_2/archive"] = [NO_ROUTE]
    fake_api.replies["GET /v1/batches/bat_2"] = [
        Reply(404, {"error": {"code": "not_found", "message": "no batch bat_2", "details": []}})
    ]

    with Client(fake_api.url, "ij_test") as client, pytest.raises(NotFoundError, match="no batch bat_2"):
        client.download_batch_archive("bat_2", tmp_path / "bat_2.zip")
