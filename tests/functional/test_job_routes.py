"""Listing, retrying and deleting jobs: scoped to the caller's tenant like every other read."""

from __future__ import annotations

import json
import threading
import time
import zlib

import pytest
import requests

from devstack.stack import Stack
from imagejobs.services import accounts, jobs
from tests import images
from tests.functional.conftest import Client, drain, upload

OUTPUTS = [{"name": "small", "format": "png", "operations": [{"type": "resize", "width": 8}]}]


@pytest.fixture
def tenant(stack: Stack) -> Client:
    """A tenant of its own, so listings see only this test's jobs."""
    created = accounts.create_tenant("listing")
    return Client(stack, accounts.create_key(created.id, "listing"))


def job(client: Client, stack: Stack, data: bytes) -> dict:
    created = client.post("/jobs", {"source": {"upload_id": upload(client, data)}, "outputs": OUTPUTS}).json()
    drain(stack)
    return dict(client.get(f"/jobs/{created['id']}").json())


def test_jobs_are_listed_newest_first_a_page_at_a_time(tenant: Client, stack: Stack) -> None:
    made = [job(tenant, stack, images.jpeg(16, 16)) for _ in range(5)]

    first = tenant.get("/jobs", params={"limit": 2}).json()
    second = tenant.get("/jobs", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    third = tenant.get("/jobs", params={"limit": 2, "cursor": second["next_cursor"]}).json()

    listed = [j["id"] for page in (first, second, third) for j in page["jobs"]]
    assert listed == [j["id"] for j in reversed(made)]
    assert (
        third["next_cursor"] is None
        or tenant.get("/jobs", params={"cursor": third["next_cursor"]}).json()["jobs"] == []
    )
    assert first["jobs"][0]["outputs"][0]["url"].startswith("http")


def test_jobs_are_filtered_by_status(tenant: Client, stack: Stack) -> None:
    good = job(tenant, stack, images.jpeg(16, 16))
    bad = job(tenant, stack, b"not an image at all, just words")

    failed = tenant.get("/jobs", params={"status": "failed"}).json()["jobs"]
    succeeded = tenant.get("/jobs", params={"status": "succeeded"}).json()["jobs"]

    assert [j["id"] for j in failed] == [bad["id"]]
    assert [j["id"] for j in succeeded] == [good["id"]]


def test_a_cursor_keeps_its_listings_filter_on_the_next_page(tenant: Client, stack: Stack) -> None:
    failed = [job(tenant, stack, b"not an image") for _ in range(3)]
    job(tenant, stack, images.jpeg(16, 16))

    first = tenant.get("/jobs", params={"status": "failed", "limit": 2}).json()
    second = tenant.get("/jobs", params={"cursor": first["next_cursor"], "limit": 2}).json()

    listed = [j["id"] for page in (first, second) for j in page["jobs"]]
    assert listed[:3] == [j["id"] for j in reversed(failed)]
    assert {j["status"] for page in (first, second) for j in page["jobs"]} == {"failed"}
    other = tenant.get("/jobs", params={"cursor": first["next_cursor"], "status": "succeeded"})
    assert (other.status_code, other.json()["error"]["details"][0]["path"]) == (400, "status")


def test_a_page_of_jobs_stops_short_of_lambdas_response_limit(
    tenant: Client, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = [job(tenant, stack, images.jpeg(16, 16)) for _ in range(3)]
    one = len(json.dumps(tenant.get(f"/jobs/{made[0]['id']}").json()))
    monkeypatch.setattr(jobs, "PAGE_BUDGET_BYTES", one + one // 2)  # room for one document, not two

    first = tenant.get("/jobs", params={"limit": 3}).json()
    second = tenant.get("/jobs", params={"limit": 3, "cursor": first["next_cursor"]}).json()

    assert [j["id"] for j in first["jobs"]] == [made[2]["id"]]
    assert [j["id"] for j in second["jobs"]] == [made[1]["id"]]


@pytest.mark.parametrize(
    ("params", "path"), [({"status": "done"}, "status"), ({"limit": 0}, "limit"), ({"limit": 101}, "limit")]
)
def test_a_bad_listing_query_names_the_parameter(tenant: Client, params: dict, path: str) -> None:
    response = tenant.get("/jobs", params=params)

    assert response.status_code == 422
    assert path in [d["path"] for d in response.json()["error"]["details"]]


def test_a_cursor_that_this_api_did_not_give_is_a_400(tenant: Client) -> None:
    response = tenant.get("/jobs", params={"cursor": "bm90LWEtam9i"})

    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["path"] == "cursor"


def test_a_failed_job_is_retried_from_its_source(tenant: Client, stack: Stack) -> None:
    # GIVEN a job that failed because its upload held no image
    form = tenant.post("/uploads", {"filename": "a.png", "content_type": "image/png"}).json()
    requests.post(form["url"], data=form["fields"], files={"file": ("a.png", b"oops", "image/png")}, timeout=10)
    created = tenant.post("/jobs", {"source": {"upload_id": form["upload_id"]}, "outputs": OUTPUTS}).json()
    drain(stack)
    assert tenant.get(f"/jobs/{created['id']}").json()["status"] == "failed"

    # WHEN the image is uploaded again and the job retried
    requests.post(
        form["url"], data=form["fields"], files={"file": ("a.png", images.png(20, 10), "image/png")}, timeout=10
    )
    drain(stack)
    retried = tenant.request("POST", f"/jobs/{created['id']}/retry")
    assert retried.status_code == 202
    assert retried.json()["status"] == "queued"
    assert retried.json()["error"] is None
    drain(stack)

    # THEN it succeeded on its second attempt
    done = tenant.get(f"/jobs/{created['id']}").json()
    assert (done["status"], done["attempts"], done["outputs"][0]["width"]) == ("succeeded", 2, 8)


def test_only_a_failed_job_can_be_retried(tenant: Client, stack: Stack) -> None:
    done = job(tenant, stack, images.jpeg(16, 16))

    response = tenant.request("POST", f"/jobs/{done['id']}/retry")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"


def test_deleting_a_job_removes_its_images_now(tenant: Client, stack: Stack) -> None:
    done = job(tenant, stack, images.jpeg(16, 16))
    url = done["outputs"][0]["url"]
    assert requests.get(url, timeout=10).status_code == 200

    response = tenant.request("DELETE", f"/jobs/{done['id']}")

    assert response.status_code == 204
    assert requests.get(url, timeout=10).status_code == 404
    assert tenant.get(f"/jobs/{done['id']}").status_code == 404
    assert tenant.request("DELETE", f"/jobs/{done['id']}").status_code == 404


def test_a_job_is_stored_deflated_and_one_stored_as_json_by_0_1_0_still_reads(tenant: Client, stack: Stack) -> None:
    done = job(tenant, stack, images.jpeg(16, 16))
    table = stack.client("dynamodb")
    (item,) = table.scan(
        TableName=stack.template.refs["Table"],
        FilterExpression="sk = :sk",
        ExpressionAttributeValues={":sk": {"S": f"JOB#{done['id']}"}},
    )["Items"]
    assert json.loads(zlib.decompress(item["data"]["B"]))["id"] == done["id"]

    # an item as 0.1.0 wrote it: the job's JSON itself
    stored = {**item, "data": {"S": zlib.decompress(item["data"]["B"]).decode()}}
    table.put_item(TableName=stack.template.refs["Table"], Item=stored)

    read = tenant.get(f"/jobs/{done['id']}").json()
    assert {k: v for k, v in read.items() if k != "outputs"} == {k: v for k, v in done.items() if k != "outputs"}
    assert [j["id"] for j in tenant.get("/jobs").json()["jobs"]] == [done["id"]]
    assert tenant.request("DELETE", f"/jobs/{done['id']}").status_code == 204


def test_another_tenant_cannot_read_retry_delete_or_list_a_job(
    tenant: Client, other_tenant: Client, stack: Stack
) -> None:
    failed = job(tenant, stack, b"no image here")

    assert other_tenant.get(f"/jobs/{failed['id']}").status_code == 404
    assert other_tenant.request("POST", f"/jobs/{failed['id']}/retry").status_code == 404
    assert other_tenant.request("DELETE", f"/jobs/{failed['id']}").status_code == 404
    assert failed["id"] not in [j["id"] for j in other_tenant.get("/jobs", params={"limit": 100}).json()["jobs"]]
    assert tenant.get(f"/jobs/{failed['id']}").json()["status"] == "failed"


def test_a_waiting_read_answers_as_soon_as_the_job_ends(tenant: Client, stack: Stack) -> None:
    # GIVEN a queued job, and the processor running it a second from now
    created = tenant.post("/jobs", {"source": {"upload_id": upload(tenant, images.jpeg(16, 16))}, "outputs": OUTPUTS})
    ended_at: list[float] = []

    def run_later() -> None:
        time.sleep(1)
        drain(stack)
        ended_at.append(time.monotonic())

    runner = threading.Thread(target=run_later)
    runner.start()

    # WHEN the client reads it, waiting up to 15 s
    asked = time.monotonic()
    answer = tenant.get(f"/jobs/{created.json()['id']}", params={"wait": 15})
    answered = time.monotonic()
    runner.join()

    # THEN the answer is the ended job, given within a moment of its end, long before the 15 s
    assert (answer.status_code, answer.json()["status"]) == (200, "succeeded")
    assert answered - asked < 10
    assert answered - ended_at[0] < 2


def test_a_waiting_read_of_a_job_that_does_not_end_answers_when_the_wait_is_over(tenant: Client) -> None:
    created = tenant.post(
        "/jobs", {"source": {"upload": {"filename": "a.jpg", "content_type": "image/jpeg"}}, "outputs": OUTPUTS}
    )

    asked = time.monotonic()
    answer = tenant.get(f"/jobs/{created.json()['id']}", params={"wait": 2})

    assert (answer.status_code, answer.json()["status"]) == (200, "awaiting_upload")
    assert 2 <= time.monotonic() - asked < 6


@pytest.mark.parametrize("wait", [-1, 21, "soon"])
def test_a_wait_outside_0_to_20_seconds_names_the_parameter(tenant: Client, wait: object) -> None:
    response = tenant.get("/jobs/job_01KAZ5Y0000000000000000003", params={"wait": wait})

    assert (response.status_code, response.json()["error"]["details"][0]["path"]) == (422, "wait")
