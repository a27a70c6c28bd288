"""Least privilege, proven before deploy (issue 8): every function runs under its own role from
template.yaml (devstack/iam.py), so a permission taken out of the template fails here as it would
in AWS. The session also fails on any refused call (tests/conftest.py)."""

from __future__ import annotations

import json

import pytest

from devstack import iam
from devstack.stack import Stack
from devstack.template import load
from imagejobs.services import accounts
from tests import images
from tests.functional.conftest import Client, drain, upload

OUTPUTS = [{"name": "small", "format": "webp", "operations": [{"type": "resize", "width": 8}]}]
# Taken out of a copy of template.yaml: (function, policy template).
REMOVED = [("CreateJobFunction", "SQSSendMessagePolicy"), ("UploadUrlFunction", "S3WritePolicy")]


@pytest.fixture(scope="module")
def narrowed(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> iam.Roles:
    """The roles of a copy of template.yaml without the REMOVED policies, as SAM translates it."""
    body = load()
    for function, policy in REMOVED:
        properties = body["Resources"][function]["Properties"]
        kept = [entry for entry in properties["Policies"] if not (isinstance(entry, dict) and policy in entry)]
        assert len(kept) == len(properties["Policies"]) - 1, f"{function} has no {policy} to take out"
        properties["Policies"] = kept
    copy = tmp_path_factory.mktemp("template") / "template.json"
    copy.write_text(json.dumps(body))
    return iam.Roles.resolve(iam.translate(copy), stack.template)


@pytest.fixture
def tenant(stack: Stack) -> Client:
    created = accounts.create_tenant("least privilege")
    return Client(stack, accounts.create_key(created.id, "least privilege"))


def guard(stack: Stack) -> iam.Guard:
    assert stack.guard is not None, "the functional stack runs its functions under their roles"
    return stack.guard


def test_a_call_the_template_no_longer_allows_fails_as_it_would_in_aws(
    stack: Stack, tenant: Client, narrowed: iam.Roles
) -> None:
    # GIVEN an image that has landed
    upload_id = upload(tenant, images.jpeg(16, 16))
    drain(stack)
    # WHEN a job is made on it with CreateJobFunction's SQSSendMessagePolicy taken out
    with guard(stack).trial(narrowed) as calls:
        response = tenant.post("/jobs", {"source": {"upload_id": upload_id}, "outputs": OUTPUTS})
    # THEN queueing it is refused (AccessDenied, as SQS answers) and the function fails
    assert response.status_code == 502
    refused = [(c.function, c.action, c.resource) for c in calls if not c.allowed]
    assert refused == [("CreateJobFunction", "sqs:SendMessage", stack.template.attributes["JobsQueue"]["Arn"])]
    assert ("CreateJobFunction", "dynamodb:PutItem", True) in {(c.function, c.action, c.allowed) for c in calls}


def test_a_form_the_template_no_longer_lets_a_function_sign_is_refused_when_signed(
    stack: Stack, tenant: Client, narrowed: iam.Roles
) -> None:
    with guard(stack).trial(narrowed) as calls:
        response = tenant.post("/uploads", {"filename": "a.jpg", "content_type": "image/jpeg"})
    # AWS signs whatever it is asked to; the upload with that form is what it would refuse
    assert response.status_code == 201
    refused = [(c.function, c.operation, c.action, c.presigned) for c in calls if not c.allowed]
    assert refused == [("UploadUrlFunction", "s3.PostObject", "s3:PutObject", True)]
    (resource,) = [c.resource for c in calls if not c.allowed]
    assert resource.startswith(f"arn:aws:s3:::{stack.template.refs['Bucket']}/uploads/")
    assert resource.endswith(f"/{response.json()['upload_id']}")


def test_a_job_is_allowed_call_by_call_and_each_call_is_credited_to_the_function_that_made_it(
    stack: Stack, tenant: Client
) -> None:
    with guard(stack).trial(guard(stack).roles) as calls:  # the template's own roles
        upload_id = upload(tenant, images.jpeg(16, 16))
        drain(stack)
        job = tenant.post("/jobs", {"source": {"upload_id": upload_id}, "outputs": OUTPUTS}).json()
        drain(stack)
        assert tenant.get(f"/jobs/{job['id']}").json()["status"] == "succeeded"
    assert [c for c in calls if not c.allowed] == []
    made = {(c.function, c.action, c.presigned) for c in calls}
    assert {
        ("AuthorizerFunction", "dynamodb:GetItem", False),
        ("UploadUrlFunction", "dynamodb:PutItem", False),
        ("UploadUrlFunction", "s3:PutObject", True),
        ("ProcessFunction", "dynamodb:UpdateItem", False),
        ("CreateJobFunction", "dynamodb:PutItem", False),
        ("CreateJobFunction", "sqs:SendMessage", False),
        ("ProcessFunction", "s3:GetObject", False),
        ("ProcessFunction", "s3:PutObject", False),
        ("ProcessFunction", "events:PutEvents", False),
        ("GetJobFunction", "dynamodb:GetItem", False),
        ("GetJobFunction", "s3:GetObject", True),
    } <= made
    assert {action for function, action, _ in made if function == "AuthorizerFunction"} == {"dynamodb:GetItem"}
