"""Who a request is from, as the authorizer found: what every service is given instead of a key."""

from __future__ import annotations

from dataclasses import dataclass

from imagejobs.settings import Tier

# Anonymous callers share one tenant: their jobs are read by id alone (an id is 80 random bits).
ANONYMOUS_TENANT = "anonymous"


@dataclass(frozen=True)
class Caller:
    """A request's tenant and tier, the key it came with, and the key its usage plan meters it by."""

    tenant_id: str
    tier: Tier
    usage_key: str = ""  # what the authorizer gives API Gateway as usageIdentifierKey
    key_id: str = ""  # the API key's public id (`key_…`), its name in the usage plan; none when anonymous
