"""Tenant keys in API Gateway's usage plan, so it meters them (rate, burst, daily quota).

API Gateway knows a key by the SHA-256 the authorizer gives as usageIdentifierKey (never the key
itself). Only the admin command registers keys, with the deployed stack's KeyedUsagePlan id; the
local stack meters keys without registration."""

from __future__ import annotations

from imagejobs.settings import get_settings
from imagejobs.store.aws import client
from imagejobs.store.records import ApiKeyRecord


def register(key: ApiKeyRecord) -> None:
    plan = get_settings().keyed_usage_plan_id
    if not plan:
        return
    gateway = client("apigateway")
    created = gateway.create_api_key(
        name=key.id, value=key.key_hash, enabled=True, description=f"imagejobs tenant {key.tenant_id}"
    )
    gateway.create_usage_plan_key(usagePlanId=plan, keyId=created["id"], keyType="API_KEY")


def disable(key: ApiKeyRecord) -> None:
    if not get_settings().keyed_usage_plan_id:
        return
    gateway = client("apigateway")
    for found in gateway.get_api_keys(nameQuery=key.id, includeValues=False)["items"]:
        if found["name"] == key.id:
            gateway.update_api_key(
                apiKey=found["id"], patchOperations=[{"op": "replace", "path": "/enabled", "value": "false"}]
            )
