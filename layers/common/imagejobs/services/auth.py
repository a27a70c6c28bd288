"""Tenants and their API keys. A key is shown once; only its SHA-256 is stored."""

from __future__ import annotations

import hashlib

from imagejobs.caller import ANONYMOUS_TENANT, Caller
from imagejobs.errors import AuthenticationError, NotFoundError
from imagejobs.ids import new_api_key, new_id, new_webhook_secret
from imagejobs.services import usage
from imagejobs.settings import get_settings
from imagejobs.store import repository
from imagejobs.store.records import ApiKeyRecord, TenantRecord, now


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_tenant(name: str, webhook_secret: str | None = None) -> TenantRecord:
    secret = webhook_secret or new_webhook_secret()
    tenant = TenantRecord(id=new_id("ten"), name=name, webhook_secret=secret, created_at=now())
    repository.put_tenant(tenant)
    return tenant


def create_key(tenant_id: str, name: str, key: str | None = None) -> str:
    """Creates an API key for the tenant and returns it (the only time it can be read)."""
    key = key or new_api_key()
    record = ApiKeyRecord(key_hash=hash_key(key), tenant_id=tenant_id, name=name, created_at=now())
    repository.put_api_key(record)
    usage.register(record)
    return key


def revoke_key(tenant_id: str, key_id: str) -> ApiKeyRecord:
    """Revokes one of the tenant's keys: requests with it are refused from now on."""
    key = next((k for k in repository.list_api_keys(tenant_id) if k.id == key_id), None)
    if key is None:
        raise NotFoundError(f"tenant {tenant_id} has no key {key_id}")
    revoked = key.revoke()
    repository.put_api_key(revoked)
    usage.disable(revoked)
    return revoked


def key_from_headers(x_api_key: str | None, authorization: str | None) -> str | None:
    if x_api_key:
        return x_api_key.strip()
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def authorize(x_api_key: str | None, authorization: str | None) -> Caller:
    """The caller a request's key (or, where the deployer allows it, its lack of one) stands for."""
    key = key_from_headers(x_api_key, authorization)
    settings = get_settings()
    if key is None:
        if settings.allow_anonymous:
            return Caller(ANONYMOUS_TENANT, "anonymous", settings.anonymous_usage_key)
        raise AuthenticationError("send your API key as X-API-Key or Authorization: Bearer")
    record = repository.get_api_key(hash_key(key))
    if record is None or record.revoked:
        raise AuthenticationError("the API key is not valid")
    return Caller(record.tenant_id, "keyed", record.key_hash, record.id)
