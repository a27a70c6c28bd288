"""GET /v1/usage on moto: a key's own limits and today's use, read from API Gateway's usage plan
(moto's plans and keys, with the local stack's meter answering GetUsage), under the function's role."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from devstack import iam
from devstack.stack import Stack
from devstack.template import REGION, load
from imagejobs.services import accounts, auth
from imagejobs.settings import get_settings
from tests.functional.conftest import Client


@pytest.fixture
def tenant(stack: Stack) -> Client:
    """A tenant with a key of its own: no request of another test is counted against it."""
    created = accounts.create_tenant("usage")
    return Client(stack, accounts.create_key(created.id, "usage"))


def test_a_key_sees_its_plans_rate_and_quota_and_its_tiers_limits(stack: Stack, tenant: Client) -> None:
    parameters = stack.template.parameters

    response = tenant.get("/usage")

    assert response.status_code == 200, response.text
    usage = response.json()
    assert (usage["tier"], usage["shared"]) == ("keyed", False)
    assert usage["key_id"] == f"key_{auth.hash_key(tenant.key)[:16]}"
    assert usage["rate"] == {
        "requests_per_second": float(parameters["KeyedRateLimit"]),
        "burst": int(parameters["KeyedBurstLimit"]),
    }
    tomorrow = datetime.fromordinal(datetime.now(UTC).date().toordinal() + 1).replace(tzinfo=UTC)
    assert usage["quota"] == {
        "period": "day",
        "limit": int(parameters["KeyedDailyQuota"]),
        "used": 1,  # this request
        "remaining": int(parameters["KeyedDailyQuota"]) - 1,
        "resets_at": tomorrow.isoformat().replace("+00:00", "Z"),
    }
    assert usage["limits"] == {
        "upload_max_bytes": int(parameters["UploadMaxBytes"]),
        "max_source_pixels": int(parameters["MaxSourcePixels"]),
        "max_output_dimension": int(parameters["MaxOutputDimension"]),
        "max_animation_frames": int(parameters["MaxAnimationFrames"]),
        "max_operations": int(parameters["MaxOperations"]),
        "max_outputs": int(parameters["MaxOutputs"]),
        "max_batch_jobs": 100,
    }


def test_a_key_counts_its_own_requests_and_no_one_elses(stack: Stack, tenant: Client, other_tenant: Client) -> None:
    # GIVEN a key that has made one request (this reading)
    before = tenant.get("/usage").json()["quota"]
    # WHEN it makes three more, refused ones included, and another tenant makes two
    assert tenant.get("/jobs").status_code == 200
    assert tenant.get("/jobs/job_01KAZ5Y0000000000000000009").status_code == 404
    assert tenant.post("/uploads", {"filename": "a.txt", "content_type": "text/plain"}).status_code == 422
    for _ in range(2):
        assert other_tenant.get("/jobs").status_code == 200
    after = tenant.get("/usage").json()["quota"]

    # THEN its count went up by its own four requests (this reading included), and only by them
    assert after["used"] == before["used"] + 4
    assert after["remaining"] == before["remaining"] - 4


def test_api_gateways_get_usage_reports_each_keys_days_as_used_and_remaining(stack: Stack, tenant: Client) -> None:
    # GIVEN a key that made two requests today
    for _ in range(2):
        tenant.get("/jobs")
    gateway = stack.client("apigateway")
    plan = stack.template.refs["KeyedUsagePlan"]
    (key,) = gateway.get_api_keys(nameQuery=f"key_{auth.hash_key(tenant.key)[:16]}")["items"]
    today = datetime.now(UTC).date()
    yesterday = datetime.fromordinal(today.toordinal() - 1).date()

    # WHEN GetUsage is asked for yesterday and today, as the usage function asks it
    usage = gateway.get_usage(
        usagePlanId=plan, keyId=key["id"], startDate=yesterday.isoformat(), endDate=today.isoformat()
    )

    # THEN it answers API Gateway's shape: [used, remaining] per day, for the key asked about
    quota = int(stack.template.parameters["KeyedDailyQuota"])
    assert usage["items"] == {key["id"]: [[0, quota], [2, quota - 2]]}
    assert (usage["startDate"], usage["endDate"]) == (yesterday.isoformat(), today.isoformat())
    with pytest.raises(gateway.exceptions.NotFoundException):
        gateway.get_usage(usagePlanId="nope", startDate=today.isoformat(), endDate=today.isoformat())


def test_the_function_reads_only_its_plan_and_the_key_list_and_is_refused_without_them(
    stack: Stack, tenant: Client, tmp_path: Path
) -> None:
    assert stack.guard is not None, "the functional stack runs its functions under their roles"
    # GIVEN a copy of template.yaml whose UsageFunction may read its plan but not the list of keys
    body = load()
    (statement,) = body["Resources"]["UsageFunction"]["Properties"]["Policies"][0]["Statement"]
    apikeys = [r for r in statement["Resource"] if isinstance(r, dict) and str(r.get("Fn::Sub")).endswith("/apikeys")]
    assert len(apikeys) == 1
    statement["Resource"].remove(apikeys[0])
    copy = tmp_path / "template.json"
    copy.write_text(json.dumps(body))
    narrowed = iam.Roles.resolve(iam.translate(copy), stack.template)

    # WHEN the usage is asked for under the template's roles, then under the narrowed ones
    with stack.guard.trial(stack.guard.roles) as allowed:
        assert tenant.get("/usage").status_code == 200
    with stack.guard.trial(narrowed) as refused:
        answer = tenant.get("/usage")

    # THEN it made three GETs on API Gateway, all allowed; without the key list, the first is refused
    plan = f"arn:aws:apigateway:{REGION}::/usageplans/{stack.template.refs['KeyedUsagePlan']}"
    made = {(c.action, c.resource, c.allowed) for c in allowed if c.function == "UsageFunction"}
    assert made == {
        ("apigateway:GET", f"arn:aws:apigateway:{REGION}::/apikeys", True),
        ("apigateway:GET", plan, True),
        ("apigateway:GET", f"{plan}/usage", True),
    }
    assert answer.status_code == 502
    assert [(c.function, c.resource) for c in refused if not c.allowed] == [
        ("UsageFunction", f"arn:aws:apigateway:{REGION}::/apikeys")
    ]


def test_a_key_missing_from_the_usage_plan_is_a_clear_500_not_a_crash(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a key made while no usage plan was configured (so never registered in one)
    monkeypatch.setitem(os.environ, "KEYED_USAGE_PLAN_ID", "")
    get_settings.cache_clear()
    try:
        created = accounts.create_tenant("unregistered")
        key = accounts.create_key(created.id, "unregistered")
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()

    # WHEN it asks for its usage (the local stack meters keys that are in no plan; API Gateway would not)
    answer = Client(stack, key).get("/usage")

    # THEN the answer says what is wrong, in the API's error body
    assert answer.status_code == 500
    assert answer.json()["error"]["code"] == "internal"
    assert "no usage plan key for this caller" in answer.json()["error"]["message"]
