"""`python -m devstack.admin <command>`: the commands of imagejobs.services.admin, against the running
local stack (the one `make run` started; IMAGEJOBS_AWS_PORT, default 3001, tells which)."""

from __future__ import annotations

import json
import os
import sys

from devstack.stack import state_file


def main() -> int:
    state = state_file(int(os.environ.get("IMAGEJOBS_AWS_PORT", "3001")))
    if not state.exists():
        print("no local stack is running on that port: start one with `make run`", file=sys.stderr)
        return 1
    running = json.loads(state.read_text())
    sys.path[:0] = running["sys_path"]
    os.environ.update(running["environment"])
    from imagejobs.services import admin  # noqa: PLC0415 (importable once the template's layers are on sys.path)

    return admin.run(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
