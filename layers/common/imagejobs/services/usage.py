"""API Gateway's usage plans: tenant keys registered in the keyed plan, so it meters them (rate,
burst, daily quota), and a caller's limits and today's use read back from it (GET /v1/usage).

API Gateway knows a key by the SHA-256 the authorizer gives as usageIdentifierKey (never the key
itself), under the key's public id as its name. Only the admin command registers keys, with the
deployed stack's KeyedUsagePlan id. Anonymous callers share one plan and one key, which the template
makes (AnonymousUsagePlan, AnonymousApiKey)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from pydantic import Field

from imagejobs.caller import Caller
from imagejobs.errors import ImageJobsError
from imagejobs.settings import Tier, get_settings
from imagejobs.spec.model import Model
from imagejobs.spec.requests import MAX_BATCH_JOBS
from imagejobs.store.aws import client
from imagejobs.store.tenants import ApiKeyRecord


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
    for found in _api_keys(key.id):
        gateway.update_api_key(
            apiKey=found["id"], patchOperations=[{"op": "replace", "path": "/enabled", "value": "false"}]
        )


def _api_keys(name: str) -> list[dict[str, Any]]:
    """API Gateway's keys of exactly this name (its nameQuery matches a prefix)."""
    found = client("apigateway").get_api_keys(nameQuery=name, includeValues=False)["items"]
    return [key for key in found if key["name"] == name]


# ---- GET /v1/usage ----------------------------------------------------------------------------


class UsageRate(Model):
    """The usage plan's throttle: a token bucket of `burst` requests, refilled at `requests_per_second`."""

    requests_per_second: float
    burst: int


class UsageQuota(Model):
    """The usage plan's quota, and what is used of it."""

    period: Literal["day", "week", "month"]
    limit: int = Field(description="Requests allowed in a period")
    used: int = Field(description="Requests counted today (UTC), this one included")
    remaining: int = Field(description="Requests left in this period")
    resets_at: datetime | None = Field(description="When a daily quota starts again (midnight UTC); null otherwise")


class UsageLimits(Model):
    """What one request or job may ask for (SPEC §5), for this tier."""

    upload_max_bytes: int
    max_source_pixels: int = Field(description="Width x height x frames of a source, read from its header")
    max_output_dimension: int = Field(description="Pixels, either side of an output")
    max_animation_frames: int
    max_operations: int = Field(description="Operations in one output")
    max_outputs: int = Field(description="Outputs of one job")
    max_batch_jobs: int = Field(description="Jobs in one batch; 0 where batches need a key")


class Usage(Model):
    """The caller's limits and today's use: of its own key, or of every anonymous caller together."""

    tier: Tier
    key_id: str | None = Field(
        description='The key\'s public id (`make admin ARGS="keys list …"`); null when anonymous'
    )
    shared: bool = Field(description="True for anonymous callers: one rate and quota for all of them")
    rate: UsageRate | None = Field(description="Null when the usage plan has no throttle")
    quota: UsageQuota | None = Field(description="Null when the usage plan has no quota")
    limits: UsageLimits


class UsageUnavailableError(ImageJobsError):
    """The caller's key is not in the usage plan it should be in: the stack's setup, not the request."""


def for_caller(caller: Caller, today: date | None = None) -> Usage:
    """The caller's usage plan (throttle and quota) with today's use of it, and its tier's limits."""
    settings = get_settings()
    day = today or datetime.now(UTC).date()
    if caller.tier == "keyed":
        plan_id, key_ids = settings.keyed_usage_plan_id, [key["id"] for key in _api_keys(caller.key_id)]
    else:
        plan_id, key_ids = settings.anonymous_usage_plan_id, [settings.anonymous_api_key_id]
    if not plan_id or len(key_ids) != 1:
        raise UsageUnavailableError(f"no usage plan key for this caller ({caller.key_id or caller.tier})")
    gateway = client("apigateway")
    plan = gateway.get_usage_plan(usagePlanId=plan_id)
    throttle, quota = plan.get("throttle"), plan.get("quota")
    limits = settings.limits(caller.tier)
    return Usage(
        tier=caller.tier,
        key_id=caller.key_id or None,
        shared=caller.tier == "anonymous",
        rate=UsageRate(requests_per_second=throttle["rateLimit"], burst=throttle["burstLimit"]) if throttle else None,
        quota=_quota(gateway, plan_id, key_ids[0], quota, day) if quota else None,
        limits=UsageLimits(
            **limits.model_dump(),
            max_batch_jobs=MAX_BATCH_JOBS if caller.tier == "keyed" else 0,
        ),
    )


def _quota(gateway: Any, plan_id: str, key_id: str, quota: dict[str, Any], day: date) -> UsageQuota:
    """Today's entry of GetUsage, `[used, remaining]`; a key with no request today may have none."""
    iso = day.isoformat()
    usage = gateway.get_usage(usagePlanId=plan_id, keyId=key_id, startDate=iso, endDate=iso)
    days = usage.get("items", {}).get(key_id) or []
    limit = int(quota["limit"])
    used, remaining = (int(days[-1][0]), int(days[-1][1])) if days else (0, limit)
    period = str(quota["period"]).lower()
    midnight = datetime.combine(day + timedelta(days=1), time(), UTC)
    return UsageQuota(
        period=period,  # DAY, WEEK or MONTH: API Gateway's only periods
        limit=limit,
        used=used,
        remaining=remaining,
        resets_at=midnight if period == "day" and not quota.get("offset") else None,
    )
