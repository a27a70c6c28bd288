"""The deployer's command for tenants and keys, on the same table the API reads."""

from __future__ import annotations

import json
import os

import pytest

from devstack.stack import Stack
from imagejobs.services import admin, auth
from imagejobs.settings import get_settings
from tests.functional.conftest import Client


def command(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, object]:
    code = admin.run(argv)
    out, err = capsys.readouterr()
    return code, json.loads(out) if out else err


def test_a_new_tenant_gets_a_working_key_and_a_secret(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    code, created = command(capsys, "tenants", "create", "acme")

    assert code == 0
    assert isinstance(created, dict)
    assert created["webhook_secret"].startswith("whsec_")
    client = Client(stack, created["api_key"])
    assert client.post("/uploads", {"filename": "a.jpg", "content_type": "image/jpeg"}).status_code == 201
    _, secret = command(capsys, "secret", created["tenant_id"])
    assert secret == {"tenant_id": created["tenant_id"], "webhook_secret": created["webhook_secret"]}
    _, tenants = command(capsys, "tenants", "list")
    assert created["tenant_id"] in [t["tenant_id"] for t in tenants]  # type: ignore[union-attr]


def test_keys_are_listed_without_their_secret_and_a_revoked_key_is_refused(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    _, tenant = command(capsys, "tenants", "create", "revokers")
    assert isinstance(tenant, dict)
    _, second = command(capsys, "keys", "create", tenant["tenant_id"], "--name", "ci")
    assert isinstance(second, dict)

    _, keys = command(capsys, "keys", "list", tenant["tenant_id"])
    assert isinstance(keys, list)
    assert sorted(k["name"] for k in keys) == ["ci", "default"]
    assert all(k["key_id"].startswith("key_") and not k["revoked"] for k in keys)
    assert second["api_key"] not in json.dumps(keys)

    ci = next(k for k in keys if k["name"] == "ci")
    code, revoked = command(capsys, "keys", "revoke", tenant["tenant_id"], ci["key_id"])
    assert (code, revoked) == (0, {"key_id": ci["key_id"], "revoked": True})
    body = {"filename": "a.jpg", "content_type": "image/jpeg"}
    assert Client(stack, second["api_key"]).post("/uploads", body).status_code == 401
    assert Client(stack, tenant["api_key"]).post("/uploads", body).status_code == 201


def test_an_unknown_tenant_is_an_error_not_a_crash(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    code, error = command(capsys, "keys", "create", "ten_NOPE")

    assert code == 1
    assert "no tenant ten_NOPE" in str(error)


def test_against_a_deployed_stack_keys_join_its_usage_plan_and_leave_it_when_revoked(
    stack: Stack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the admin command configured with the stack's KeyedUsagePlan (moto's API Gateway)
    gateway = stack.client("apigateway")
    plan = gateway.create_usage_plan(name="keyed", throttle={"rateLimit": 30, "burstLimit": 60})["id"]
    monkeypatch.setitem(os.environ, "KEYED_USAGE_PLAN_ID", plan)
    get_settings.cache_clear()
    try:
        # WHEN a tenant is made, and its key revoked
        _, created = command(capsys, "tenants", "create", "metered")
        assert isinstance(created, dict)
        _, keys = command(capsys, "keys", "list", created["tenant_id"])
        assert isinstance(keys, list)
        (key,) = keys

        # THEN API Gateway meters the key by its hash (never the key), in the plan, until revoked
        (registered,) = gateway.get_api_keys(nameQuery=key["key_id"], includeValues=True)["items"]
        assert registered["value"] == auth.hash_key(created["api_key"])
        assert registered["enabled"] is True
        assert [k["id"] for k in gateway.get_usage_plan_keys(usagePlanId=plan)["items"]] == [registered["id"]]
        command(capsys, "keys", "revoke", created["tenant_id"], key["key_id"])
        assert gateway.get_api_key(apiKey=registered["id"])["enabled"] is False
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_grants_are_added_listed_replaced_and_revoked_and_each_reaches_the_api(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    _, tenant = command(capsys, "tenants", "create", "granted")
    assert isinstance(tenant, dict)
    tenant_id = tenant["tenant_id"]
    client = Client(stack, tenant["api_key"])
    body = {"source": {"s3": {"bucket": "media", "key": "products/1.png"}}, "outputs": [{"name": "a", "format": "png"}]}
    assert client.post("/jobs", body).status_code == 422

    code, added = command(capsys, "grants", "add", tenant_id, "s3://media/products/", "--read", "--write")
    assert (code, added) == (0, {"tenant_id": tenant_id, "grant": "s3://media/products/", "read": True, "write": True})
    command(capsys, "grants", "add", tenant_id, "s3://originals/", "--read")
    command(capsys, "grants", "add", tenant_id, "s3://media/products/", "--write")  # replaces read and write
    _, listed = command(capsys, "grants", "list", tenant_id)
    assert [(g["grant"], g["read"], g["write"]) for g in listed] == [  # type: ignore[union-attr]
        ("s3://media/products/", False, True),
        ("s3://originals/", True, False),
    ]
    assert client.post("/jobs", body).status_code == 422  # write only, now
    command(capsys, "grants", "add", tenant_id, "s3://media/products/", "--read")
    assert client.post("/jobs", body).status_code == 202

    code, revoked = command(capsys, "grants", "revoke", tenant_id, "s3://media/products/")
    assert (code, revoked) == (0, {"tenant_id": tenant_id, "grant": "s3://media/products/", "read": True,
                                   "write": False, "revoked": True})  # fmt: skip
    assert client.post("/jobs", body).status_code == 422
    _, other = command(capsys, "tenants", "create", "not granted")
    assert command(capsys, "grants", "list", other["tenant_id"]) == (0, [])  # type: ignore[index]


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (("grants", "add", "ten_NOPE", "s3://media/", "--read"), "no tenant ten_NOPE"),
        (("grants", "add", "{tenant}", "s3://unconnected/", "--read"), "the stack may not read unconnected"),
        (("grants", "add", "{tenant}", "s3://originals/", "--read", "--write"), "the stack may not write originals"),
        (("grants", "add", "{tenant}", "s3://media/"), "give --read, --write or both"),
        (("grants", "add", "{tenant}", "media/products/", "--read"), "is not an s3://bucket/prefix address"),
        (("grants", "revoke", "{tenant}", "s3://media/never/"), "has no grant on s3://media/never/"),
        (("grants", "list", "ten_NOPE"), "no tenant ten_NOPE"),
    ],
)
def test_a_grant_that_cannot_be_is_an_error_that_says_why(
    stack: Stack, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], says: str
) -> None:
    _, tenant = command(capsys, "tenants", "create", "refused")
    assert isinstance(tenant, dict)

    code, error = command(capsys, *(part.format(tenant=tenant["tenant_id"]) for part in argv))

    assert code == 1
    assert says in str(error)
