"""The IAM role of every function in a SAM template, as `sam deploy` would create it: the template
translated by the SAM translator (policy templates expanded, the AWS managed policies SAM attaches
named), printed as JSON. Intrinsic functions are left as they are; devstack.iam resolves them
against the resources of a local stack.

It runs in the SAM CLI's environment, which has samtranslator (the project's cannot: the SAM CLI
pins boto3):

    .venv-sam/bin/python scripts/sam_policies.py [template.yaml]

Output: {"<function logical id>": {"role": "<role logical id>", "policies": [{"name", "origin",
"label", "statements"}], "managed": ["arn:aws:iam::aws:policy/..."]}}, where origin is "template"
(an entry of the function's Policies, described by label) or "sam" (added by SAM for an event
source or destination).
"""

from __future__ import annotations

import copy
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # the translator asks for one; ARNs keep ${AWS::Region}

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class NoManagedPolicyNames:
    """Policies naming an AWS managed policy by name need IAM to find its ARN; the template uses none."""

    def load(self) -> dict[str, str]:
        sys.exit("sam_policies: a function's Policies name a managed policy; write its ARN instead")


def label(entry: Any) -> str:
    """An entry of a function's Policies, briefly: `S3CrudPolicy(Bucket)`, an ARN, or `statements`."""
    if isinstance(entry, str):
        return entry
    if "Statement" in entry:
        return "statements"
    ((name, arguments),) = entry.items()
    values = arguments.values() if isinstance(arguments, dict) else []
    targets = [v.get("Ref") or ".".join(v.get("Fn::GetAtt", [])) for v in values if isinstance(v, dict)]
    return f"{name}({', '.join(t for t in targets if t)})"


def roles(template_text: str) -> dict[str, Any]:
    source = yaml_parse(template_text)
    body = copy.deepcopy(source)
    for resource in body["Resources"].values():  # as `sam validate` does: code is not read here
        for key in ("CodeUri", "ContentUri"):
            if isinstance(resource.get("Properties", {}).get(key), str):
                resource["Properties"][key] = "s3://local/code.zip"
    translated = transform(body, {}, NoManagedPolicyNames())["Resources"]
    found = {}
    for logical_id, resource in translated.items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        role = resource["Properties"]["Role"]
        if not (isinstance(role, dict) and role.get("Fn::GetAtt", [None])[0] in translated):
            sys.exit(f"sam_policies: {logical_id}'s role is not a role of this template")
        role_id = role["Fn::GetAtt"][0]
        properties = translated[role_id]["Properties"]
        entries = source["Resources"].get(logical_id, {}).get("Properties", {}).get("Policies", [])
        entries = entries if isinstance(entries, list) else [entries]
        policies = []
        for entry in properties.get("Policies", []):
            # A policy that holds under a condition only: `Fn::If [condition, policy, AWS::NoValue]`.
            condition, policy = (entry["Fn::If"][0], entry["Fn::If"][1]) if "Fn::If" in entry else (None, entry)
            index = re.fullmatch(rf"{re.escape(role_id)}Policy(\d+)", policy["PolicyName"])
            statements = policy["PolicyDocument"]["Statement"]
            policies.append(
                {
                    "name": policy["PolicyName"],
                    "origin": "template" if index else "sam",
                    "label": label(entries[int(index.group(1))]) if index else policy["PolicyName"],
                    "statements": statements if isinstance(statements, list) else [statements],
                    "condition": condition,
                }
            )
        found[logical_id] = {"role": role_id, "policies": policies, "managed": properties.get("ManagedPolicyArns", [])}
    return found


if __name__ == "__main__":
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "template.yaml"
    json.dump(roles(path.read_text()), sys.stdout, indent=1, sort_keys=True)
