"""Who a request's API key stands for. A key is shown once (`accounts`); only its SHA-256 is stored."""

from __future__ import annotations

import hashlib

from imagejobs.caller import ANONYMOUS_TENANT, Caller
from imagejobs.errors import AuthenticationError
from imagejobs.settings import get_settings
from imagejobs.store import tenants


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


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
    record = tenants.get_api_key(hash_key(key))
    if record is None or record.revoked:
        raise AuthenticationError("the API key is not valid")
    return Caller(record.tenant_id, "keyed", record.key_hash, record.id)
