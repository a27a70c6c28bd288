"""`make soak`, small: 60 jobs from 5 clients on `python -m devstack` with faults injected at random,
checked as the full soak checks them: nothing lost, nothing duplicated, every callback delivered once
under one webhook-id."""

from __future__ import annotations

from pathlib import Path

from scripts.soak import FAULTS, Options, details, run, table

# The full soak's faults, with fewer conflicts: each costs its job a retry 10 s later, and two on one
# job 70 s, more than this test wants to wait on most runs.
SMALL = FAULTS.replace("ddb_conflict=0.03", "ddb_conflict=0.01")


def test_sixty_jobs_from_five_clients_on_a_bad_day_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    report = run(Options(jobs=60, clients=5, seed=11, faults=SMALL, timeout=150, down=6, log=tmp_path / "devstack.log"))

    summary = f"{table(report)}\n{details(report)}"
    assert report.created == 60, summary
    assert report.ok, summary
    assert report.statuses["succeeded"] + report.statuses["failed"] == 60, summary
    assert report.callbacks_ok == report.callbacks_expected > 0, summary
    assert sum(kind["injected"] for kind in report.faults.values()) > 0, summary
