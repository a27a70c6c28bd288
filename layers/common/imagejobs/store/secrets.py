"""The stack's secrets in Secrets Manager, read once per function instance (the first time one is
needed, so functions that never make a link never pay for the call)."""

from __future__ import annotations

from functools import cache

from imagejobs.settings import get_settings
from imagejobs.store.aws import client


@cache
def link_secret() -> bytes:
    """The key that signs the outputs' stable links (the template's LinkSecret)."""
    value = client("secretsmanager").get_secret_value(SecretId=get_settings().link_secret_arn)["SecretString"]
    return str(value).encode()
