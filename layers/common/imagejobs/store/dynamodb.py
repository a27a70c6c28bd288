"""The stack's one DynamoDB table, as the modules of data access share it: `repository` (jobs,
uploads, batches, idempotency claims, archives) and `tenants` (tenants, API keys, grants) each
know their own items' shapes.

A tenant's items share its partition (`TENANT#<id>`), so every read is scoped by the caller's
tenant: another tenant's id is simply not found."""

from __future__ import annotations

from typing import Any

from imagejobs.settings import get_settings
from imagejobs.store import aws


def table() -> Any:
    return aws.table(get_settings().table_name)


def tenant_pk(tenant_id: str) -> str:
    return f"TENANT#{tenant_id}"
