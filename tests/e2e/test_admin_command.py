"""`python -m devstack.admin` reaches the running local stack, as the README tells a user to."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import requests

from tests.e2e.conftest import ROOT, LocalStack


def test_a_tenant_made_with_the_admin_command_can_use_the_api(local_stack: LocalStack) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "devstack.admin", "tenants", "create", "from-the-shell"],
        cwd=ROOT,
        env={**os.environ, "IMAGEJOBS_AWS_PORT": str(local_stack.aws_port)},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    created = json.loads(result.stdout)
    response = requests.post(
        f"{local_stack.api_url}/uploads",
        json={"filename": "a.png", "content_type": "image/png"},
        headers={"Authorization": f"Bearer {created['api_key']}"},
        timeout=10,
    )
    assert response.status_code == 201
