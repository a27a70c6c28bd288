"""The local stack refuses presigned POST forms S3 would refuse: the URL the API hands out checks
the key, the content type, the size range, the expiry and the signature over the policy, answers
with S3's error, and writes nothing."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config

from devstack.stack import LOCAL_ENVIRONMENT, Stack
from devstack.template import REGION
from tests import images
from tests.functional.conftest import Client

JPEG = images.jpeg(16, 16)


def form(client: Client, **request: Any) -> dict[str, Any]:
    body = {"filename": "photo.jpg", "content_type": "image/jpeg", **request}
    response = client.post("/uploads", body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def send(url: str, fields: dict[str, str], data: bytes = JPEG, content_type: str = "image/jpeg") -> requests.Response:
    return requests.post(url, data=fields, files={"file": ("photo.jpg", data, content_type)}, timeout=30)


def s3_error(response: requests.Response) -> tuple[int, str, str]:
    """(status, S3 error code, message) of an S3 XML error answer."""
    assert response.headers["Content-Type"] == "application/xml", response.text
    code = re.search(r"<Code>(.*?)</Code>", response.text)
    message = re.search(r"<Message>(.*?)</Message>", response.text)
    assert code and message, response.text
    return response.status_code, code.group(1), message.group(1).replace("&quot;", '"')


def stored(stack: Stack, key: str) -> bool:
    return "Contents" in stack.client("s3").list_objects_v2(Bucket=bucket(stack), Prefix=key)


def bucket(stack: Stack) -> str:
    return str(stack.template.refs["Bucket"])


def test_an_untouched_form_uploads_and_its_object_reads_back(api: Client, stack: Stack) -> None:
    upload = form(api)

    sent = send(upload["url"], upload["fields"])

    assert sent.status_code == 204, sent.text
    assert stack.client("s3").get_object(Bucket=bucket(stack), Key=upload["fields"]["key"])["Body"].read() == JPEG


def test_a_form_whose_key_names_another_tenants_pending_upload_is_refused(
    api: Client, other_tenant: Client, stack: Stack
) -> None:
    # GIVEN another tenant's upload, waiting for its image, and a form of ours
    theirs = form(other_tenant)
    ours = form(api)
    # WHEN our form is sent with their key
    sent = send(ours["url"], {**ours["fields"], "key": theirs["fields"]["key"]})
    # THEN S3's refusal, and nothing written at either key
    assert s3_error(sent) == (
        403,
        "AccessDenied",
        f'Invalid according to Policy: Policy Condition failed: ["eq", "$key", "{ours["fields"]["key"]}"]',
    )
    assert not stored(stack, theirs["fields"]["key"])
    assert not stored(stack, ours["fields"]["key"])


def test_a_form_sent_with_another_content_type_is_refused(api: Client, stack: Stack) -> None:
    upload = form(api)

    sent = send(upload["url"], {**upload["fields"], "Content-Type": "text/html"}, b"<script>", "text/html")

    assert s3_error(sent) == (
        403,
        "AccessDenied",
        'Invalid according to Policy: Policy Condition failed: ["eq", "$Content-Type", "image/jpeg"]',
    )
    assert not stored(stack, upload["fields"]["key"])


def test_a_file_over_the_forms_size_is_refused_as_entity_too_large(api: Client, stack: Stack) -> None:
    upload = form(api, size_bytes=100)

    sent = send(upload["url"], upload["fields"], b"x" * 101)

    assert s3_error(sent) == (400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
    assert "<ProposedSize>101</ProposedSize><MaxSizeAllowed>100</MaxSizeAllowed>" in sent.text
    assert not stored(stack, upload["fields"]["key"])
    assert send(upload["url"], upload["fields"], b"x" * 100).status_code == 204  # the limit itself is allowed


def test_an_empty_file_is_refused_as_entity_too_small(api: Client, stack: Stack) -> None:
    upload = form(api)

    sent = send(upload["url"], upload["fields"], b"")

    assert s3_error(sent)[:2] == (400, "EntityTooSmall")
    assert not stored(stack, upload["fields"]["key"])


def signer(stack: Stack, **credentials: str) -> Any:
    """An S3 client that signs forms as the stack's functions do (or with other credentials)."""
    keys = {
        "aws_access_key_id": LOCAL_ENVIRONMENT["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": LOCAL_ENVIRONMENT["AWS_SECRET_ACCESS_KEY"],
        "aws_session_token": LOCAL_ENVIRONMENT["AWS_SESSION_TOKEN"],
        **credentials,
    }
    return boto3.client(
        "s3", endpoint_url=stack.aws_url, region_name=REGION, config=Config(signature_version="s3v4"), **keys
    )


def signed_form(stack: Stack, key: str, expires_in: int = 900, **credentials: str) -> dict[str, Any]:
    return dict(
        signer(stack, **credentials).generate_presigned_post(
            Bucket=bucket(stack),
            Key=key,
            Fields={"Content-Type": "image/jpeg"},
            Conditions=[{"Content-Type": "image/jpeg"}, ["content-length-range", 1, 1000]],
            ExpiresIn=expires_in,
        )
    )


def test_an_expired_form_is_refused(stack: Stack) -> None:
    expired = signed_form(stack, "uploads/ten_x/upl_expired", expires_in=-1)

    sent = send(expired["url"], expired["fields"])

    assert s3_error(sent) == (403, "AccessDenied", "Invalid according to Policy: Policy expired.")
    assert not stored(stack, "uploads/ten_x/upl_expired")


def test_a_policy_rewritten_without_its_signature_is_refused(stack: Stack) -> None:
    # GIVEN a form whose policy is rewritten to allow any key and size, keeping the old signature
    original = signed_form(stack, "uploads/ten_x/upl_1")
    policy = json.loads(base64.b64decode(original["fields"]["policy"]))
    policy["conditions"] = [
        ["starts-with", "$key", "uploads/"] if isinstance(c, dict) and "key" in c else c
        for c in policy["conditions"]
        if not (isinstance(c, list) and c[0] == "content-length-range")
    ]
    fields = {**original["fields"], "key": "uploads/ten_y/upl_2"}
    fields["policy"] = base64.b64encode(json.dumps(policy).encode()).decode()
    # WHEN it is sent
    sent = send(original["url"], fields, b"x" * 5000)
    # THEN the signature does not match, and nothing is written
    assert s3_error(sent)[:2] == (403, "SignatureDoesNotMatch")
    assert not stored(stack, "uploads/ten_y/upl_2")


@pytest.mark.parametrize(
    ("credentials", "code"),
    [
        ({"aws_secret_access_key": "guessed"}, "SignatureDoesNotMatch"),
        ({"aws_access_key_id": "AKIAOTHER"}, "InvalidAccessKeyId"),
        ({"aws_session_token": "another"}, "InvalidToken"),
    ],
)
def test_a_form_signed_with_other_credentials_is_refused(stack: Stack, credentials: dict[str, str], code: str) -> None:
    forged = signed_form(stack, "uploads/ten_x/upl_forged", **credentials)

    sent = send(forged["url"], forged["fields"])

    assert s3_error(sent)[:2] == (403, code)
    assert not stored(stack, "uploads/ten_x/upl_forged")


def test_a_field_the_policy_does_not_name_is_refused(api: Client, stack: Stack) -> None:
    upload = form(api)

    sent = send(upload["url"], {**upload["fields"], "x-amz-meta-owner": "someone", "x-ignore-note": "fine"})

    assert s3_error(sent) == (403, "AccessDenied", "Invalid according to Policy: Extra input fields: x-amz-meta-owner")
    assert not stored(stack, upload["fields"]["key"])


def test_a_form_without_policy_or_signature_is_refused(api: Client, stack: Stack) -> None:
    upload = form(api)
    fields = {k: v for k, v in upload["fields"].items() if k not in ("policy", "x-amz-signature")}

    sent = send(upload["url"], fields)

    assert s3_error(sent) == (403, "AccessDenied", "Access Denied")
    assert not stored(stack, upload["fields"]["key"])


def test_a_url_encoded_form_is_refused_as_s3_refuses_it(api: Client, stack: Stack) -> None:
    upload = form(api)

    sent = requests.post(upload["url"], data={**upload["fields"], "file": "not multipart"}, timeout=30)

    assert s3_error(sent)[:2] == (412, "PreconditionFailed")
    assert "multipart/form-data" in sent.text
    assert not stored(stack, upload["fields"]["key"])


def test_a_form_with_two_files_is_refused(api: Client, stack: Stack) -> None:
    upload = form(api)

    sent = requests.post(
        upload["url"],
        data=upload["fields"],
        files=[("file", ("a.jpg", JPEG, "image/jpeg")), ("file", ("b.jpg", b"x" * 50, "image/jpeg"))],
        timeout=30,
    )

    assert s3_error(sent) == (400, "InvalidArgument", "POST requires exactly one file upload per request.")
    assert not stored(stack, upload["fields"]["key"])


def test_a_browser_reads_the_refusal(api: Client) -> None:
    upload = form(api)

    sent = requests.post(
        upload["url"],
        data={**upload["fields"], "key": "uploads/elsewhere"},
        files={"file": ("a.jpg", JPEG, "image/jpeg")},
        headers={"Origin": "http://localhost:8080"},
        timeout=30,
    )

    assert sent.status_code == 403
    assert sent.headers["Access-Control-Allow-Origin"] == "*"
