"""Configuration, read once from the environment the template gives each function."""

from __future__ import annotations

import os
from functools import cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Tier = Literal["keyed", "anonymous"]
RUNTIME_MEMORY_MB = 384
MB_PER_VCPU = 1769  # Lambda gives a function one vCPU per 1,769 MB of memory
MAX_VCPUS = 6
Access = Literal["read", "write"]


class TierLimits(BaseModel):
    """SPEC §5's limits of one tier (keyed or anonymous), as the template's parameters set them."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    upload_max_bytes: int = Field(alias="UPLOAD_MAX_BYTES", gt=0)
    max_source_pixels: int = Field(alias="MAX_SOURCE_PIXELS", gt=0)
    max_output_dimension: int = Field(alias="MAX_OUTPUT_DIMENSION", gt=0)
    max_animation_frames: int = Field(alias="MAX_ANIMATION_FRAMES", gt=0)
    max_operations: int = Field(alias="MAX_OPERATIONS", gt=0)
    max_outputs: int = Field(alias="MAX_OUTPUTS", gt=0)


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    table_name: str = Field(alias="TABLE_NAME")
    idempotency_table_name: str = Field(alias="IDEMPOTENCY_TABLE_NAME")
    bucket_name: str = Field(alias="BUCKET_NAME")
    jobs_queue_url: str = Field(alias="JOBS_QUEUE_URL")
    event_bus_name: str = Field(alias="EVENT_BUS_NAME")
    keyed: TierLimits
    anonymous: TierLimits  # the ANONYMOUS_ variables; used only where AllowAnonymous is on
    allow_anonymous: bool = Field(default=False, alias="ALLOW_ANONYMOUS")
    anonymous_usage_key: str = Field(default="", alias="ANONYMOUS_USAGE_KEY")  # the authorizer's
    # API Gateway's usage plans: the admin command adds keys to the keyed one; GET /v1/usage reads them.
    keyed_usage_plan_id: str = Field(default="", alias="KEYED_USAGE_PLAN_ID")
    anonymous_usage_plan_id: str = Field(default="", alias="ANONYMOUS_USAGE_PLAN_ID")
    anonymous_api_key_id: str = Field(default="", alias="ANONYMOUS_API_KEY_ID")
    max_receive_count: int = Field(alias="MAX_RECEIVE_COUNT", gt=0)
    upload_url_seconds: int = Field(default=900, alias="UPLOAD_URL_SECONDS", gt=0)
    download_url_seconds: int = Field(default=3600, alias="DOWNLOAD_URL_SECONDS", gt=0)
    upload_ttl_seconds: int = Field(default=86400, alias="UPLOAD_TTL_SECONDS", gt=0)
    # Stable links (GET /v1/o/{token}): the secret that signs them, and the API's URL for functions
    # that make links outside a request (API functions take it from the request).
    link_secret_arn: str = Field(default="", alias="LINK_SECRET_ARN")
    api_url: str = Field(default="", alias="API_URL")
    # The CDN in front of the outputs (EnableCdn), `https://<distribution>`; empty when there is none.
    cdn_url: str = Field(default="", alias="CDN_URL")
    # Development only: lets callbacks reach http:// on loopback (the local stack turns it on).
    allow_loopback_urls: bool = Field(default=False, alias="ALLOW_LOOPBACK_URLS")
    # Callback delivery's own (only the delivery function has them).
    callbacks_queue_url: str = Field(default="", alias="CALLBACKS_QUEUE_URL")
    callback_retry_delays: tuple[int, ...] = Field(default=(60,), alias="CALLBACK_RETRY_DELAYS", min_length=1)
    callback_max_attempts: int = Field(default=1, alias="CALLBACK_MAX_ATTEMPTS", gt=0)
    # Archives' own: the queue the API asks for them on, and the size of the parts the builder
    # uploads (S3's minimum, 5 MiB, but for the last part; memory stays a few parts).
    archives_queue_url: str = Field(default="", alias="ARCHIVES_QUEUE_URL")
    archive_part_bytes: int = Field(default=8 * 2**20, alias="ARCHIVE_PART_BYTES", ge=5 * 2**20)
    archive_max_receive_count: int = Field(default=1, alias="ARCHIVE_MAX_RECEIVE_COUNT", gt=0)
    # Prefix batches': the queue their listing pages (and retries) go through, its dead-letter
    # queue's ARN (what arrives from there fails the batch's listing), and the most jobs one makes.
    fan_out_queue_url: str = Field(default="", alias="FAN_OUT_QUEUE_URL")
    fan_out_dead_letter_arn: str = Field(default="", alias="FAN_OUT_DEAD_LETTER_QUEUE_ARN")
    max_prefix_batch_jobs: int = Field(default=100_000, alias="MAX_PREFIX_BATCH_JOBS", gt=0)
    # A job's work as a whole: the pixels it encodes over every output and page (MaxWorkUnits).
    max_work_units: int = Field(default=400_000_000, alias="MAX_WORK_UNITS", gt=0)
    # The memory the function has (Lambda sets it), of which a job's pixels may use all but
    # RUNTIME_MEMORY_MB (the interpreter, the libraries and their caches).
    function_memory_mb: int = Field(default=2048, alias="AWS_LAMBDA_FUNCTION_MEMORY_SIZE", gt=0)

    @property
    def max_memory_bytes(self) -> int:
        return max(self.function_memory_mb - RUNTIME_MEMORY_MB, RUNTIME_MEMORY_MB) * 2**20

    @property
    def render_threads(self) -> int:
        """The outputs a job renders at once: the vCPUs Lambda gives the function's memory (one per
        1,769 MB, rounded, at most 6; at least 1), and no more than the cores this process may use."""
        vcpus = min(MAX_VCPUS, max(1, round(self.function_memory_mb / MB_PER_VCPU)))
        return min(vcpus, os.process_cpu_count() or 1)

    # The deployer's buckets (ConnectedBuckets, ConnectedReadOnlyBuckets): what grants may name.
    connected_buckets: tuple[str, ...] = Field(default=(), alias="CONNECTED_BUCKETS")
    connected_read_only_buckets: tuple[str, ...] = Field(default=(), alias="CONNECTED_READ_ONLY_BUCKETS")

    @field_validator("callback_retry_delays", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return tuple(int(part) for part in value.split(",")) if isinstance(value, str) else value

    @field_validator("connected_buckets", "connected_read_only_buckets", mode="before")
    @classmethod
    def _names(cls, value: object) -> object:
        return tuple(name for name in value.split(",") if name) if isinstance(value, str) else value

    def connected(self, bucket: str, access: Access) -> bool:
        """Whether the stack's role may `access` the bucket: a connected bucket, or a read-only one for reading."""
        return bucket in self.connected_buckets or (access == "read" and bucket in self.connected_read_only_buckets)

    def limits(self, tier: Tier) -> TierLimits:
        return self.keyed if tier == "keyed" else self.anonymous


@cache
def get_settings() -> Settings:
    anonymous = {
        name.removeprefix("ANONYMOUS_"): value for name, value in os.environ.items() if name.startswith("ANONYMOUS_")
    }
    return Settings.model_validate(
        {
            **os.environ,
            "keyed": TierLimits.model_validate(os.environ),
            "anonymous": TierLimits.model_validate(anonymous),
        }
    )
