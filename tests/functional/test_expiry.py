"""Expiry: an expired job reads as gone at once, and when TTL removes its record (the local stack
emulates DynamoDB's TTL, which moto lacks) the stream removal deletes its images."""

from __future__ import annotations

import requests

from devstack.stack import Stack
from tests import images
from tests.functional.conftest import Client, drain, upload


def expire_now(stack: Stack, tenant_id: str, sk: str) -> None:
    """Moves a record's TTL into the past: what waiting would do."""
    stack.client("dynamodb").update_item(
        TableName=stack.template.refs["Table"],
        Key={"pk": {"S": f"TENANT#{tenant_id}"}, "sk": {"S": sk}},
        UpdateExpression="SET #ttl = :past",
        ExpressionAttributeNames={"#ttl": "ttl"},
        ExpressionAttributeValues={":past": {"N": "1"}},
    )


def stored(stack: Stack, prefix: str) -> list[str]:
    listed = stack.client("s3").list_objects_v2(Bucket=stack.template.refs["Bucket"], Prefix=prefix)
    return [item["Key"] for item in listed.get("Contents", [])]


def test_when_ttl_removes_a_job_its_images_are_deleted(api: Client, stack: Stack) -> None:
    # GIVEN a finished job with stored outputs, reusing an upload
    uploaded = upload(api, images.jpeg(40, 30))
    body = {"source": {"upload_id": uploaded}, "outputs": [{"name": "a", "format": "png"}], "ttl_seconds": 300}
    created = api.post("/jobs", body).json()
    drain(stack)
    job = api.get(f"/jobs/{created['id']}").json()
    prefix = f"outputs/{stack.tenant_id}/{job['id']}/"
    assert stored(stack, prefix) == [f"{prefix}a.png"]

    # WHEN its time is up and TTL removes the record
    expire_now(stack, stack.tenant_id, f"JOB#{job['id']}")
    assert api.get(f"/jobs/{job['id']}").status_code == 404  # gone at once, before TTL gets to it
    removed = stack.ttl.sweep_once()

    # THEN the job's images are gone too, and its upload (still live) is not
    assert removed >= 1
    assert stored(stack, prefix) == []
    assert requests.get(job["outputs"][0]["url"], timeout=10).status_code == 404
    assert stored(stack, f"uploads/{stack.tenant_id}/{uploaded}") != []


def test_when_ttl_removes_an_upload_its_image_is_deleted(api: Client, stack: Stack) -> None:
    uploaded = upload(api, images.jpeg(8, 8))
    drain(stack)

    expire_now(stack, stack.tenant_id, f"UPLOAD#{uploaded}")
    stack.ttl.sweep_once()

    assert stored(stack, f"uploads/{stack.tenant_id}/{uploaded}") == []


def test_deleting_through_the_api_is_not_mistaken_for_expiry(api: Client, stack: Stack) -> None:
    uploaded = upload(api, images.jpeg(8, 8))
    drain(stack)

    assert stack.ttl.sweep_once() == 0  # nothing has expired
    assert stored(stack, f"uploads/{stack.tenant_id}/{uploaded}") != []
