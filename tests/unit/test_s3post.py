"""devstack.s3post.check_form: a presigned POST form against its policy, as S3 checks it (no server:
forms are signed by botocore offline, and checked as a dict of fields)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import boto3
import pytest
from botocore.config import Config

from devstack.s3post import Credentials, Refused, check_form

BUCKET = "imagejobs-local-bucket"
CREDENTIALS = {"local": Credentials("local", "local")}


def signed(conditions: list[Any], fields: dict[str, str] | None = None, expires_in: int = 900) -> dict[str, list[str]]:
    s3 = boto3.client(
        "s3",
        endpoint_url="http://127.0.0.1:9",
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        aws_session_token="local",
        config=Config(signature_version="s3v4"),
    )
    form = s3.generate_presigned_post(
        Bucket=BUCKET, Key="uploads/ten_a/upl_a", Fields=fields, Conditions=conditions, ExpiresIn=expires_in
    )
    return {name.lower(): [value] for name, value in form["fields"].items()}


def refusal(fields: dict[str, list[str]], size: int = 10, bucket: str = BUCKET) -> tuple[int, str, str]:
    with pytest.raises(Refused) as caught:
        check_form(bucket, fields, size, CREDENTIALS, time.time())
    return caught.value.status, caught.value.code, caught.value.message


JPEG_ONLY = [{"Content-Type": "image/jpeg"}, ["content-length-range", 1, 100]]


def test_a_signed_form_within_its_policy_passes() -> None:
    check_form(BUCKET, signed(JPEG_ONLY, {"Content-Type": "image/jpeg"}), 100, CREDENTIALS, time.time())


def test_field_names_are_matched_whatever_their_case() -> None:
    fields = signed(JPEG_ONLY, {"Content-Type": "image/jpeg"})
    assert "content-type" in fields  # as the middleware gives them: lower-cased
    check_form(BUCKET, fields, 1, CREDENTIALS, time.time())


def test_starts_with_takes_a_prefix_and_refuses_anything_else() -> None:
    conditions = [["starts-with", "$Content-Type", "image/"]]
    check_form(BUCKET, {**signed(conditions), "content-type": ["image/png"]}, 1, CREDENTIALS, time.time())
    assert refusal({**signed(conditions), "content-type": ["text/html"]})[:2] == (403, "AccessDenied")


def test_a_missing_field_fails_its_condition() -> None:
    assert refusal(signed(JPEG_ONLY)) == (
        403,
        "AccessDenied",
        'Invalid according to Policy: Policy Condition failed: ["eq", "$Content-Type", "image/jpeg"]',
    )


def test_the_bucket_of_the_url_is_a_condition() -> None:
    fields = signed(JPEG_ONLY, {"Content-Type": "image/jpeg"})
    assert refusal(fields, bucket="another-bucket")[2].endswith(f'["eq", "$bucket", "{BUCKET}"]')


def test_a_field_given_twice_is_refused() -> None:
    fields = signed(JPEG_ONLY, {"Content-Type": "image/jpeg"})
    fields["key"] = [*fields["key"], "uploads/ten_b/upl_b"]
    assert refusal(fields)[:2] == (400, "InvalidArgument")


def test_x_ignore_fields_need_no_condition_and_others_do() -> None:
    fields = signed(JPEG_ONLY, {"Content-Type": "image/jpeg"})
    check_form(BUCKET, {**fields, "x-ignore-anything": ["1"]}, 1, CREDENTIALS, time.time())
    assert refusal({**fields, "acl": ["public-read"]})[2] == "Invalid according to Policy: Extra input fields: acl"


def test_the_size_range_is_inclusive() -> None:
    fields = signed(JPEG_ONLY, {"Content-Type": "image/jpeg"})
    for size in (1, 100):
        check_form(BUCKET, fields, size, CREDENTIALS, time.time())
    assert refusal(fields, size=0)[:2] == (400, "EntityTooSmall")
    assert refusal(fields, size=101)[:2] == (400, "EntityTooLarge")


def test_a_policy_is_good_until_its_expiration() -> None:
    fields = signed(JPEG_ONLY, {"Content-Type": "image/jpeg"}, expires_in=60)
    check_form(BUCKET, fields, 1, CREDENTIALS, time.time() + 55)
    with pytest.raises(Refused, match="Policy expired"):
        check_form(BUCKET, fields, 1, CREDENTIALS, time.time() + 65)


def test_a_policy_that_is_not_base64_json_is_refused_by_its_signature_first() -> None:
    fields = signed(JPEG_ONLY, {"Content-Type": "image/jpeg"})
    fields["policy"] = [base64.b64encode(json.dumps({"conditions": []}).encode()).decode()]
    assert refusal(fields)[:2] == (403, "SignatureDoesNotMatch")


@pytest.mark.parametrize("missing", ["key", "policy", "x-amz-signature", "x-amz-credential"])
def test_a_form_missing_a_required_field_is_refused(missing: str) -> None:
    fields = signed(JPEG_ONLY, {"Content-Type": "image/jpeg"})
    del fields[missing]
    assert refusal(fields)[0] in (400, 403)
