"""Tenants, their API keys and their grants: what is stored of them, and their items. Apart from the
jobs' records and repository, so that reading a key (the authorizer, before every keyed request)
imports none of the job models.

A tenant and its grants are items of its partition. An API key is stored by its SHA-256 under
`KEY#<hash>`, the lookup requests use, and again in its tenant's partition, for the tenant's list.
Records travel as one JSON attribute.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from imagejobs.settings import Access, get_settings
from imagejobs.spec.model import Model
from imagejobs.store.dynamodb import table, tenant_pk


class TenantRecord(Model):
    id: str
    name: str
    webhook_secret: str
    created_at: datetime


class ApiKeyRecord(Model):
    key_hash: str
    tenant_id: str
    name: str
    created_at: datetime
    revoked: bool = False

    @property
    def id(self) -> str:
        """The key's public name: safe to show and log, useless to authenticate with."""
        return f"key_{self.key_hash[:16]}"

    def revoke(self) -> ApiKeyRecord:
        return self.model_copy(update={"revoked": True})


class GrantRecord(Model):
    """What a tenant may do under a prefix of a connected bucket (the whole bucket for "")."""

    tenant_id: str
    bucket: str
    prefix: str
    read: bool
    write: bool
    created_at: datetime

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def gives(self, access: Access) -> bool:
        return self.read if access == "read" else self.write

    def allows(self, access: Access, bucket: str, key: str) -> bool:
        """Whether it lets `access` the key (or every key starting with it) of the bucket."""
        return self.bucket == bucket and key.startswith(self.prefix) and self.gives(access)


# ---- tenants -------------------------------------------------------------------------------------


def put_tenant(tenant: TenantRecord) -> None:
    table().put_item(Item={"pk": tenant_pk(tenant.id), "sk": "TENANT", "data": tenant.model_dump_json()})


def get_tenant(tenant_id: str) -> TenantRecord | None:
    item = table().get_item(Key={"pk": tenant_pk(tenant_id), "sk": "TENANT"}).get("Item")
    return None if item is None else TenantRecord.model_validate_json(item["data"])


def list_tenants() -> list[TenantRecord]:
    """Every tenant (a scan: for the admin command, not for requests)."""
    scan: dict[str, Any] = {"FilterExpression": "sk = :tenant", "ExpressionAttributeValues": {":tenant": "TENANT"}}
    tenants = []
    while True:
        page = table().scan(**scan)
        tenants += [TenantRecord.model_validate_json(item["data"]) for item in page["Items"]]
        if "LastEvaluatedKey" not in page:
            return sorted(tenants, key=lambda tenant: tenant.created_at)
        scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]


# ---- API keys ------------------------------------------------------------------------------------


def _key_items(key: ApiKeyRecord) -> list[dict[str, Any]]:
    """The lookup by hash that requests use, and the tenant's own listing of its keys."""
    data = key.model_dump_json()
    return [
        {"pk": f"KEY#{key.key_hash}", "sk": "KEY", "data": data},
        {"pk": tenant_pk(key.tenant_id), "sk": f"KEY#{key.id}", "data": data},
    ]


def put_api_key(key: ApiKeyRecord) -> None:
    name = get_settings().table_name
    table().meta.client.transact_write_items(
        TransactItems=[{"Put": {"TableName": name, "Item": item}} for item in _key_items(key)]
    )


def get_api_key(key_hash: str) -> ApiKeyRecord | None:
    item = table().get_item(Key={"pk": f"KEY#{key_hash}", "sk": "KEY"}).get("Item")
    return None if item is None else ApiKeyRecord.model_validate_json(item["data"])


def list_api_keys(tenant_id: str) -> list[ApiKeyRecord]:
    items = table().query(
        KeyConditionExpression="pk = :pk AND begins_with(sk, :keys)",
        ExpressionAttributeValues={":pk": tenant_pk(tenant_id), ":keys": "KEY#"},
    )["Items"]
    return [ApiKeyRecord.model_validate_json(item["data"]) for item in items]


# ---- grants --------------------------------------------------------------------------------------


def _grant_key(tenant_id: str, bucket: str, prefix: str) -> dict[str, str]:
    return {"pk": tenant_pk(tenant_id), "sk": f"GRANT#{bucket}#{prefix}"}


def put_grant(grant: GrantRecord) -> None:
    """Records the grant; one already on that bucket and prefix is replaced."""
    table().put_item(Item={**_grant_key(grant.tenant_id, grant.bucket, grant.prefix), "data": grant.model_dump_json()})


def list_grants(tenant_id: str) -> list[GrantRecord]:
    """The tenant's grants, by bucket and prefix."""
    query: dict[str, Any] = {
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :grants)",
        "ExpressionAttributeValues": {":pk": tenant_pk(tenant_id), ":grants": "GRANT#"},
        "ConsistentRead": True,
    }
    grants = []
    while True:
        page = table().query(**query)
        grants += [GrantRecord.model_validate_json(item["data"]) for item in page["Items"]]
        if "LastEvaluatedKey" not in page:
            return grants
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def delete_grant(tenant_id: str, bucket: str, prefix: str) -> GrantRecord | None:
    """Removes the grant on exactly that bucket and prefix; the grant it was, or None when there was none."""
    old = table().delete_item(Key=_grant_key(tenant_id, bucket, prefix), ReturnValues="ALL_OLD").get("Attributes")
    return None if old is None else GrantRecord.model_validate_json(old["data"])
