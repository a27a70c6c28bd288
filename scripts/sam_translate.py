"""Prints template.yaml as the CloudFormation that `sam deploy` creates: what checkov checks.

Run with the SAM CLI's environment (.venv-sam), which has samtranslator:
    .venv-sam/bin/python scripts/sam_translate.py template.yaml > translated.json

Local CodeUri/ContentUri paths stand for the S3 objects `sam package` would upload (as `sam validate`
does). Every resource SAM generates keeps the Metadata of the resource it comes from, so a checkov
skip written on a function also covers its role and permissions, and one on the Api its stage.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class NoManagedPolicyNames:
    """SAM asks for the account's managed policies only to resolve one given by name, which needs
    AWS credentials; the template names its policies by ARN or SAM policy template instead."""

    def load(self) -> dict[str, str]:
        raise SystemExit("template.yaml names a managed policy by name: use its ARN")


def translate(template: dict[str, Any]) -> dict[str, Any]:
    for resource in template.get("Resources", {}).values():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str):
                properties[key] = f"s3://bucket/{properties[key]}"
    # The translation needs a region (from boto3's configuration); nothing checkov checks depends on it.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    return transform(template, {}, NoManagedPolicyNames(), passthrough_metadata=True)


def main() -> None:
    [path] = sys.argv[1:]
    json.dump(translate(yaml_parse(Path(path).read_text())), sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
