"""Every events/ file, run through its function in-process on moto, in the order of a job's life.

The same files serve `sam local invoke <Function> -e events/<file>` where Docker exists.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from standardwebhooks import Webhook

from devstack.stack import Stack
from imagejobs.services import accounts, auth
from imagejobs.spec.documents import ErrorDocument, SourceDocument
from imagejobs.spec.requests import BatchRequest, JobRequest
from imagejobs.store import repository, storage, tenants
from imagejobs.store.records import BatchRecord, JobRecord, StoredRequest, UploadRecord, new_callback, now
from imagejobs.store.tenants import TenantRecord
from tests import images
from tests.conftest import CallbackReceiver
from tests.functional.conftest import discard

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
TENANT = "ten_01KAZ5Y0000000000000000001"
UPLOAD = "upl_01KAZ5Y0000000000000000002"
JOB = "job_01KAZ5Y0000000000000000003"
BATCH = "bat_01KAZ5Y0000000000000000004"


def documented_events() -> dict[str, str]:
    """README's table of events/ files: file -> the function it is for."""
    rows = re.findall(r"^\| (`[^|]+`) \| `(\w+)` \|$", (ROOT / "README.md").read_text(), re.M)
    return {name: function for files, function in rows for name in re.findall(r"`([\w.]+\.json)`", files)}


def test_every_function_has_an_event_file_and_every_file_a_function(stack: Stack) -> None:
    documented = documented_events()

    assert set(documented.values()) == set(stack.template.resources("AWS::Serverless::Function"))
    assert set(documented) == {path.name for path in EVENTS.glob("*.json")}


def event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


def seed(stack: Stack, callback_url: str) -> None:
    """The tenant, key, upload and job that the events/ files name."""
    created = now()
    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    tenants.put_tenant(TenantRecord(id=TENANT, name="events", webhook_secret=secret, created_at=created))
    accounts.create_key(TENANT, "events", key=event("get_job.json")["headers"]["X-API-Key"])
    upload = UploadRecord(
        tenant_id=TENANT,
        id=UPLOAD,
        key=storage.upload_key(TENANT, UPLOAD),
        filename="photo.jpg",
        content_type="image/jpeg",
        max_bytes=10_000_000,
        created_at=created,
        expires_at=created + timedelta(hours=1),
        waiting_job_ids=[JOB],
    )
    repository.put_new_upload(upload)
    body = json.loads(event("create_job.json")["body"])
    body["source"] = {"upload_id": UPLOAD}
    repository.put_new_job(
        JobRecord(
            tenant_id=TENANT,
            id=JOB,
            status="awaiting_upload",
            request=StoredRequest.model_validate(JobRequest.model_validate(body).model_dump()),
            created_at=created,
            expires_at=created + timedelta(days=1),
            source=SourceDocument(upload_id=UPLOAD),
            callback=new_callback(callback_url),
        )
    )
    storage.put_output(upload.key, images.jpeg(1200, 800), "image/jpeg", not_after=upload.expires_at)
    discard(stack)  # the notification moto just sent is what events/process_upload_landed.json stands for


def test_every_event_file_runs_through_its_function(stack: Stack, receiver: CallbackReceiver) -> None:
    seed(stack, receiver.url)

    authorized = stack.function("AuthorizerFunction").invoke(event("authorizer.json"))
    assert authorized["principalId"] == TENANT
    key = event("authorizer.json")["headers"]["X-API-Key"]
    assert authorized["context"] == {"tenant_id": TENANT, "tier": "keyed", "key_id": f"key_{auth.hash_key(key)[:16]}"}
    assert authorized["policyDocument"]["Statement"] == [
        {
            "Action": "execute-api:Invoke",
            "Effect": "Allow",
            "Resource": ["arn:aws:execute-api:us-east-1:123456789012:abc123/v1/*/*"],  # every route: cached by key
        }
    ]
    assert authorized["usageIdentifierKey"] == auth.hash_key(event("authorizer.json")["headers"]["X-API-Key"])

    created_upload = stack.function("UploadUrlFunction").invoke(event("upload_url.json"))
    assert created_upload["statusCode"] == 201, created_upload
    assert json.loads(created_upload["body"])["upload_id"].startswith("upl_")

    created_job = stack.function("CreateJobFunction").invoke(event("create_job.json"))
    assert created_job["statusCode"] == 202, created_job
    assert json.loads(created_job["body"])["status"] == "awaiting_upload"

    process = stack.function("ProcessFunction")
    assert process.invoke(event("process_upload_landed.json")) == {"batchItemFailures": []}
    assert repository.get_job(TENANT, JOB).status == "queued"  # type: ignore[union-attr]

    assert process.invoke(event("process_job.json")) == {"batchItemFailures": []}
    job = repository.get_job(TENANT, JOB)
    assert job is not None
    assert job.status == "succeeded"
    assert (job.outputs[0].width, job.outputs[0].height) == (400, 400)
    dead_letter = stack.function("JobsDeadLetterFunction").invoke(event("jobs_dead_letter.json"))
    assert dead_letter == {"batchItemFailures": []}
    assert repository.get_job(TENANT, JOB).status == "succeeded"  # type: ignore[union-attr] # ended: left as is

    assert stack.function("DeliverCallbackFunction").invoke(event("deliver_callback.json")) == {"batchItemFailures": []}
    (delivery,) = receiver.wait_for(1)
    tenant = tenants.get_tenant(TENANT)
    assert tenant is not None
    payload = Webhook(tenant.webhook_secret).verify(delivery.body, delivery.headers)
    assert payload["type"] == "job.succeeded"
    assert job.finished_at is not None
    # one id per ending of the job (whichever of its events brought it), the same on every retry
    assert delivery.headers["webhook-id"] == f"msg_{JOB}_{job.attempts}_{int(job.finished_at.timestamp())}"

    read = stack.function("GetJobFunction").invoke(event("get_job.json"))
    assert read["statusCode"] == 200
    document = json.loads(read["body"])
    assert document["status"] == "succeeded"
    assert document["metadata"] == {"order": "1234"}
    assert document["callback"]["status"] == "delivered"

    # The sample link's token was signed by no stack: refused. The job's own link leads to its output.
    link = stack.function("OutputLinkFunction")
    assert link.invoke(event("output_link.json"))["statusCode"] == 404
    followed = event("output_link.json")
    followed["pathParameters"]["token"] = token = document["outputs"][0]["link"].rsplit("/", 1)[1]
    followed["path"], followed["requestContext"]["path"] = f"/o/{token}", f"/v1/o/{token}"
    redirect = link.invoke(followed)
    assert redirect["statusCode"] == 302, redirect
    assert f"/outputs/{TENANT}/{JOB}/" in redirect["multiValueHeaders"]["Location"][0]

    listed = stack.function("ListJobsFunction").invoke(event("list_jobs.json"))
    assert JOB in [job["id"] for job in json.loads(listed["body"])["jobs"]]
    assert stack.function("RetryJobFunction").invoke(event("retry_job.json"))["statusCode"] == 409  # it succeeded
    archive = stack.function("ArchivesFunction").invoke(event("archive_job.json"))
    assert archive["statusCode"] == 202, archive
    assert stack.function("BuildArchiveFunction").invoke(event("build_archive.json")) == {"batchItemFailures": []}
    assert repository.get_archive(TENANT, JOB).status == "ready"  # type: ignore[union-attr]
    assert stack.function("BatchesFunction").invoke(event("create_batch.json"))["statusCode"] == 202
    # The sample page's prefix batch: its tenant has no grant on the bucket, so its listing ends failed.
    repository.put_new_batch(
        BatchRecord(
            tenant_id=TENANT,
            id=BATCH,
            job_ids=[],
            created_at=now(),
            expires_at=now() + timedelta(days=1),
            kind="prefix",
            request=BatchRequest.model_validate(
                {"source": {"s3_prefix": {"bucket": "local-media", "prefix": "products/"}}, "preset": "og-image"}
            ),
            listing="listing",
        )
    )
    assert stack.function("FanOutFunction").invoke(event("fan_out.json")) == {"batchItemFailures": []}
    batch = repository.get_batch(TENANT, BATCH)
    assert batch is not None
    assert (batch.listing, batch.listing_error, batch.completed_at is not None) == (
        "failed",
        ErrorDocument(
            code="not_granted", message="no grant lets this tenant read s3://local-media/products/ any longer"
        ),
        True,
    )
    assert stack.function("MetaFunction").invoke(event("health.json"))["statusCode"] == 200
    usage = stack.function("UsageFunction").invoke(event("usage.json"))
    assert usage["statusCode"] == 200, usage
    assert json.loads(usage["body"])["key_id"] == event("usage.json")["requestContext"]["authorizer"]["key_id"]
    assert json.loads(stack.function("CatalogueFunction").invoke(event("catalogue_presets.json"))["body"])

    outputs = f"outputs/{TENANT}/{JOB}/"
    assert stack.function("ExpireFunction").invoke(event("expire.json")) == {"batchItemFailures": []}
    listing = stack.client("s3").list_objects_v2(Bucket=stack.template.refs["Bucket"], Prefix=outputs)
    assert listing.get("KeyCount", 0) == 0
    assert stack.function("DeleteJobFunction").invoke(event("delete_job.json"))["statusCode"] == 204
    assert stack.function("GetJobFunction").invoke(event("get_job.json"))["statusCode"] == 404
    discard(stack)
