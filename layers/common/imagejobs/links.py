"""Stable links to a job's outputs, `GET /v1/o/{token}`: what the token says and how it is signed.

A token is `<claim>.<signature>`: the claim (tenant, job, output name, when the link ends) as
base64url JSON, and HMAC-SHA256 of that text under the stack's link secret, base64url. Nobody without
the secret can make one or change a character of one; a link ends with its job (its expiry, or its
deletion, which the route checks in the table). Pure: the secret and the time are given.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from imagejobs.settings import get_settings

ROUTE = "/o/"
# What the route takes at most: a claim names ids of ~30 characters and an output name of at most 64.
_TOKEN = re.compile(r"(?P<claim>[A-Za-z0-9_-]{1,600})\.(?P<signature>[A-Za-z0-9_-]{43})")
_CONTEXT = b"imagejobs output link v1\n"  # the signature covers what the token is for, too


@dataclass(frozen=True)
class Claim:
    tenant_id: str
    job_id: str
    output: str  # the output's name in the job
    expires_at: int  # unix seconds: the job's expiry


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _signature(claim_text: str, secret: bytes) -> str:
    return _b64(hmac.new(secret, _CONTEXT + claim_text.encode(), hashlib.sha256).digest())


def sign(claim: Claim, secret: bytes) -> str:
    text = _b64(
        json.dumps([claim.tenant_id, claim.job_id, claim.output, claim.expires_at], separators=(",", ":")).encode()
    )
    return f"{text}.{_signature(text, secret)}"


def verify(token: str, secret: bytes, now: float) -> Claim | None:
    """The token's claim when this secret signed it and it has not ended; None for any other token.

    The signature is checked over the claim's text as sent, before anything reads it.
    """
    found = _TOKEN.fullmatch(token)
    if found is None or not hmac.compare_digest(found["signature"], _signature(found["claim"], secret)):
        return None
    text = found["claim"]
    tenant_id, job_id, output, expires_at = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    claim = Claim(tenant_id, job_id, output, expires_at)
    return claim if claim.expires_at > now else None


# Where the API is reached: the request's own address while a request is served (a custom domain
# included), else the API_URL of the function's environment (functions that publish events).
_served_at: ContextVar[str | None] = ContextVar("served_at", default=None)


@contextmanager
def serving(base_url: str | None) -> Iterator[None]:
    """Links made meanwhile start with `base_url` (`https://<host>/v1`)."""
    token = _served_at.set(base_url)
    try:
        yield
    finally:
        _served_at.reset(token)


def url(token: str) -> str:
    base = _served_at.get() or get_settings().api_url
    if not base:
        raise LookupError("no API URL to make links with: set API_URL, or make them while serving a request")
    return f"{base.rstrip('/')}{ROUTE}{token}"
