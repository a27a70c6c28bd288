"""Lambda SnapStart (template.yaml's EnableSnapStart): the hooks of a function restored from a
snapshot of its init. The API's functions and the authorizer register them at import; Lambda runs
them only where SnapStart is on (`snapshot_restore_py` is part of its Python runtimes).

- Before the snapshot, what the first request would otherwise load (bench/coldstart.py measures
  it): boto3 and botocore with the X-Ray patch, and the service's models the function imported,
  built. No AWS client is made: credentials and connections belong to the restored environment.
- After each restore, the `random` module is seeded anew: seeded once at import, its state would
  be the same in every environment restored from one snapshot (botocore's retry jitter draws from
  it). Ids need nothing: they take `secrets` (the kernel's generator) when they are made.
"""

from __future__ import annotations

import random

from imagejobs.spec import model
from imagejobs.store import aws


def register() -> None:
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot  # noqa: PLC0415
    except ModuleNotFoundError:  # a runtime without it (Lambda's Python runtimes have it) runs without hooks
        return
    register_before_snapshot(prime)
    register_after_restore(random.seed)


def prime() -> None:
    aws.preload()
    model.build_imported()
