"""Grants: which tenant may read or write which prefix of which connected bucket.

The deployer connects buckets with the template's `ConnectedBuckets` (read and write) and
`ConnectedReadOnlyBuckets` (read), and grants tenants a prefix of one with the admin command. A
prefix is matched as S3 matches one, character by character: `products/` covers
`products/123.heic`, `products` covers `products-old/…` too, and the empty prefix the whole bucket.

A request that names a bucket no grant of its tenant's covers is refused naming the bucket's
field, in the same words whether the bucket exists, is connected, or is granted to another tenant;
one whose bucket is granted but not that key, naming the key's field. No request reads grants.
"""

from __future__ import annotations

from imagejobs.errors import ImageJobsError, NotFoundError, NotGrantedError, RequestValidationError
from imagejobs.settings import Access, get_settings
from imagejobs.spec.keys import parse_s3_uri, s3_uri
from imagejobs.store import tenants
from imagejobs.store.records import now
from imagejobs.store.tenants import GrantRecord


def add(tenant_id: str, uri: str, *, read: bool, write: bool) -> GrantRecord:
    """Grants the tenant `read` and/or `write` under `s3://bucket/prefix` (replacing what it had there)."""
    if not (read or write):
        raise ImageJobsError("give --read, --write or both")
    if tenants.get_tenant(tenant_id) is None:
        raise NotFoundError(f"no tenant {tenant_id}")
    bucket, prefix = _parse(uri)
    settings = get_settings()
    for access in ("read", "write") if write else ("read",):
        if not settings.connected(bucket, access):
            connected = ", ".join(settings.connected_buckets) or "none"
            read_only = ", ".join(settings.connected_read_only_buckets) or "none"
            raise ImageJobsError(
                f"the stack may not {access} {bucket}: connect it first (ConnectedBuckets: {connected}; "
                f"ConnectedReadOnlyBuckets: {read_only})"
            )
    grant = GrantRecord(tenant_id=tenant_id, bucket=bucket, prefix=prefix, read=read, write=write, created_at=now())
    tenants.put_grant(grant)
    return grant


def revoke(tenant_id: str, uri: str) -> GrantRecord:
    """Removes the tenant's grant on exactly that bucket and prefix: jobs that have not run yet are refused too."""
    bucket, prefix = _parse(uri)
    removed = tenants.delete_grant(tenant_id, bucket, prefix)
    if removed is None:
        raise NotFoundError(f"tenant {tenant_id} has no grant on {s3_uri(bucket, prefix)}")
    return removed


def _parse(uri: str) -> tuple[str, str]:
    try:
        return parse_s3_uri(uri)
    except ValueError as error:
        raise ImageJobsError(str(error)) from error


class Grants:
    """One tenant's grants, read once for a request or a job run."""

    def __init__(self, tenant_id: str) -> None:
        self.grants = tenants.list_grants(tenant_id)

    def on_bucket(self, access: Access, bucket: str) -> bool:
        """Whether any of them lets `access` some of the bucket (and the stack may)."""
        return get_settings().connected(bucket, access) and any(
            g.bucket == bucket and g.gives(access) for g in self.grants
        )

    def covers(self, access: Access, bucket: str, key: str) -> bool:
        """Whether they let `access` the key (or every key starting with it) (and the stack may)."""
        return get_settings().connected(bucket, access) and any(g.allows(access, bucket, key) for g in self.grants)

    def check(self, access: Access, bucket: str, key: str, path: str, what: str = "this key") -> None:
        """Refuses the request, naming `path`.bucket or `path`.key, unless they let `access` the key."""
        if not self.on_bucket(access, bucket):
            raise RequestValidationError.at(f"{path}.bucket", f"no grant lets this tenant {access} this bucket")
        if not self.covers(access, bucket, key):
            raise RequestValidationError.at(f"{path}.key", f"no grant lets this tenant {access} {what}")

    def require(self, access: Access, bucket: str, key: str, path: str) -> None:
        """At run time: fails the job (`not_granted`) unless they still let `access` the key."""
        if not self.covers(access, bucket, key):
            raise NotGrantedError(f"{path}: no grant lets this tenant {access} {s3_uri(bucket, key)} any longer")
