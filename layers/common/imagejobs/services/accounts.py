"""Tenants and their API keys, made and revoked (by the admin command, the local stack, tests; never
by a request): a key is shown once, only its SHA-256 is stored (`auth`), and API Gateway's keyed
usage plan is told of it (`usage`)."""

from __future__ import annotations

from imagejobs.errors import NotFoundError
from imagejobs.ids import new_api_key, new_id, new_webhook_secret
from imagejobs.services import usage
from imagejobs.services.auth import hash_key
from imagejobs.store import tenants
from imagejobs.store.records import now
from imagejobs.store.tenants import ApiKeyRecord, TenantRecord


def create_tenant(name: str, webhook_secret: str | None = None) -> TenantRecord:
    secret = webhook_secret or new_webhook_secret()
    tenant = TenantRecord(id=new_id("ten"), name=name, webhook_secret=secret, created_at=now())
    tenants.put_tenant(tenant)
    return tenant


def create_key(tenant_id: str, name: str, key: str | None = None) -> str:
    """Creates an API key for the tenant and returns it (the only time it can be read)."""
    key = key or new_api_key()
    record = ApiKeyRecord(key_hash=hash_key(key), tenant_id=tenant_id, name=name, created_at=now())
    tenants.put_api_key(record)
    usage.register(record)
    return key


def revoke_key(tenant_id: str, key_id: str) -> ApiKeyRecord:
    """Revokes one of the tenant's keys: requests with it are refused from now on."""
    key = next((k for k in tenants.list_api_keys(tenant_id) if k.id == key_id), None)
    if key is None:
        raise NotFoundError(f"tenant {tenant_id} has no key {key_id}")
    revoked = key.revoke()
    tenants.put_api_key(revoked)
    usage.disable(revoked)
    return revoked
