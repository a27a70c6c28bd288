"""Tenants, API keys and grants, for the deployer: `python -m imagejobs.services.admin --stack NAME <command>`.

Commands:
  tenants create NAME          a tenant, its webhook secret and a first API key
  tenants list
  keys create TENANT_ID [--name NAME]
  keys list TENANT_ID
  keys revoke TENANT_ID KEY_ID
  secret TENANT_ID             the tenant's whsec_ callback signing secret
  grants add TENANT_ID s3://BUCKET/PREFIX [--read] [--write]
                               lets the tenant's jobs read sources and/or write outputs there
  grants list TENANT_ID
  grants revoke TENANT_ID s3://BUCKET/PREFIX

`--stack NAME` reads the deployed stack's configuration (the environment its functions run with)
with your AWS credentials; the local stack has `python -m devstack.admin <command>`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from imagejobs.errors import ImageJobsError
from imagejobs.services import accounts, grants
from imagejobs.store import tenants
from imagejobs.store.aws import client
from imagejobs.store.tenants import GrantRecord, TenantRecord


def _print(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def _grant(grant: GrantRecord) -> dict[str, Any]:
    return {"tenant_id": grant.tenant_id, "grant": grant.uri, "read": grant.read, "write": grant.write}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="imagejobs.services.admin", description="Tenants, API keys and grants.")
    commands = parser.add_subparsers(dest="command", required=True)
    tenanting = commands.add_parser("tenants").add_subparsers(dest="action", required=True)
    tenanting.add_parser("create").add_argument("name")
    tenanting.add_parser("list")
    keys = commands.add_parser("keys").add_subparsers(dest="action", required=True)
    create = keys.add_parser("create")
    create.add_argument("tenant_id")
    create.add_argument("--name", default="default")
    keys.add_parser("list").add_argument("tenant_id")
    revoke = keys.add_parser("revoke")
    revoke.add_argument("tenant_id")
    revoke.add_argument("key_id")
    commands.add_parser("secret").add_argument("tenant_id")
    granting = commands.add_parser("grants").add_subparsers(dest="action", required=True)
    add = granting.add_parser("add")
    add.add_argument("tenant_id")
    add.add_argument("uri", metavar="s3://BUCKET/PREFIX")
    add.add_argument("--read", action="store_true", help="its jobs may read sources there")
    add.add_argument("--write", action="store_true", help="its jobs may write outputs there")
    granting.add_parser("list").add_argument("tenant_id")
    withdraw = granting.add_parser("revoke")
    withdraw.add_argument("tenant_id")
    withdraw.add_argument("uri", metavar="s3://BUCKET/PREFIX")
    return parser


def run(argv: Sequence[str]) -> int:
    """Runs one command against the table the environment names (as the functions see it)."""
    args = _parser().parse_args(argv)
    try:
        match (args.command, getattr(args, "action", None)):
            case ("tenants", "create"):
                tenant = accounts.create_tenant(args.name)
                key = accounts.create_key(tenant.id, "default")
                _print({"tenant_id": tenant.id, "api_key": key, "webhook_secret": tenant.webhook_secret})
            case ("tenants", "list"):
                _print(
                    [{"tenant_id": t.id, "name": t.name, "created_at": t.created_at} for t in tenants.list_tenants()]
                )
            case ("keys", "create"):
                tenant = _require_tenant(args.tenant_id)
                _print({"tenant_id": tenant.id, "api_key": accounts.create_key(tenant.id, args.name)})
            case ("keys", "list"):
                keys = tenants.list_api_keys(_require_tenant(args.tenant_id).id)
                _print(
                    [{"key_id": k.id, "name": k.name, "created_at": k.created_at, "revoked": k.revoked} for k in keys]
                )
            case ("keys", "revoke"):
                revoked = accounts.revoke_key(args.tenant_id, args.key_id)
                _print({"key_id": revoked.id, "revoked": True})
            case ("grants", "add"):
                _print(_grant(grants.add(args.tenant_id, args.uri, read=args.read, write=args.write)))
            case ("grants", "list"):
                listed = tenants.list_grants(_require_tenant(args.tenant_id).id)
                _print([{**_grant(g), "created_at": g.created_at} for g in listed])
            case ("grants", "revoke"):
                _print({**_grant(grants.revoke(args.tenant_id, args.uri)), "revoked": True})
            case ("secret", _):
                _print({"tenant_id": args.tenant_id, "webhook_secret": _require_tenant(args.tenant_id).webhook_secret})
    except ImageJobsError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 1
    return 0


def _require_tenant(tenant_id: str) -> TenantRecord:
    tenant = tenants.get_tenant(tenant_id)
    if tenant is None:
        raise ImageJobsError(f"no tenant {tenant_id}")
    return tenant


def configure_from_stack(stack_name: str) -> None:
    """The environment of the deployed stack's functions (read from one of them), and its usage plan."""

    def physical(logical_id: str) -> str:
        resource = client("cloudformation").describe_stack_resource(StackName=stack_name, LogicalResourceId=logical_id)
        return str(resource["StackResourceDetail"]["PhysicalResourceId"])

    function = physical("CreateJobFunction")
    variables = client("lambda").get_function_configuration(FunctionName=function)["Environment"]["Variables"]
    os.environ.update(variables, KEYED_USAGE_PLAN_ID=physical("KeyedUsagePlan"))


def main() -> int:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--stack", required=True, help="the CloudFormation stack name you deployed")
    known, rest = parser.parse_known_args()
    configure_from_stack(known.stack)
    return run(rest)


if __name__ == "__main__":
    sys.exit(main())
