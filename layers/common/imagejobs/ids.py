"""Identifiers: a prefix and a ULID (time-ordered, so a tenant's jobs sort newest first)."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def ulid(now_ms: int | None = None) -> str:
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    value = (ms << 80) | secrets.randbits(80)
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def new_id(prefix: str) -> str:
    return f"{prefix}_{ulid()}"


def derived_id(prefix: str, parent_id: str, name: str) -> str:
    """The same id every time for this name within its parent (a prefix batch's job of one key):
    the parent's time (so it sorts with its siblings) and 80 bits of a SHA-256 of both."""
    time_part = parent_id.rsplit("_", 1)[-1][:10]
    value = int.from_bytes(hashlib.sha256(f"{parent_id}\0{name}".encode()).digest()[:10])
    return f"{prefix}_{time_part}" + "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(75, -1, -5))


def new_api_key() -> str:
    return f"ij_{secrets.token_urlsafe(30)}"


def new_webhook_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
