"""SnapStart (template.yaml's EnableSnapStart): the functions the template lets Lambda snapshot are
exactly those that register the hooks, and the hooks do what a snapshot needs. Each handler is
imported in a fresh interpreter (test_cold_imports' harness); the hooks are then run as Lambda's
runtime runs them: before the snapshot in the reverse order of registration, after a restore in
that order."""

from __future__ import annotations

import pytest

from tests.unit.test_cold_imports import FUNCTIONS, TEMPLATE, run

WITH_SNAPSTART = sorted(lid for lid in FUNCTIONS if "SnapStart" in TEMPLATE.function_properties(lid))
HOOKS = "import app, snapshot_restore_py as hooks; "
BEFORE_SNAPSHOT = "[f(*a, **k) for f, a, k in reversed(hooks.get_before_snapshot())]; "
AFTER_RESTORE = "[f(*a, **k) for f, a, k in hooks.get_after_restore()]; "


def test_the_functions_an_api_request_waits_on_may_be_snapshotted_and_no_other() -> None:
    # The authorizer and every function with an Api event: the ones whose init a caller waits for.
    api = sorted(
        lid
        for lid in FUNCTIONS
        if any(event["Type"] == "Api" for event in TEMPLATE.function_properties(lid).get("Events", {}).values())
    )

    assert sorted([*api, "AuthorizerFunction"]) == WITH_SNAPSTART


@pytest.mark.parametrize("logical_id", WITH_SNAPSTART)
def test_snapstart_is_off_unless_asked_and_the_api_calls_the_published_alias(logical_id: str) -> None:
    properties = TEMPLATE.function_properties(logical_id)

    assert TEMPLATE.parameters["EnableSnapStart"] == "false"
    assert TEMPLATE.resolve(properties["SnapStart"]) == {"ApplyOn": "None"}
    assert TEMPLATE.condition("SnapStartEnabled") is False
    # A version is published on any change (SnapStart's setting included), and API Gateway calls its alias.
    assert (properties["AutoPublishAlias"], properties["AutoPublishAliasAllProperties"]) == ("live", True)


def test_snapstart_on_snapshots_published_versions() -> None:
    on = TEMPLATE.__class__.read("snapstart-on", {"EnableSnapStart": "true"})

    assert {on.resolve(on.function_properties(lid)["SnapStart"])["ApplyOn"] for lid in WITH_SNAPSTART} == {
        "PublishedVersions"
    }


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_a_function_registers_the_hooks_if_and_only_if_it_may_be_snapshotted(logical_id: str) -> None:
    registered = run(
        logical_id, HOOKS + "print(json.dumps([len(hooks.get_before_snapshot()), len(hooks.get_after_restore())]))"
    )

    assert registered == ([1, 1] if logical_id in WITH_SNAPSTART else [0, 0])


@pytest.mark.parametrize("logical_id", WITH_SNAPSTART)
def test_before_the_snapshot_the_sdk_and_the_models_are_loaded_but_no_client_is_made(logical_id: str) -> None:
    found = run(
        logical_id,
        HOOKS
        + "before = 'boto3' in sys.modules; "
        + BEFORE_SNAPSHOT
        + "from imagejobs.spec.model import Model; from imagejobs.store import aws; "
        + "pending, unbuilt = [Model], []\n"
        + "while pending:\n"
        + "    m = pending.pop(); pending.extend(m.__subclasses__())\n"
        + "    unbuilt += [] if m.__pydantic_complete__ else [m.__qualname__]\n"
        + "print(json.dumps({'boto3 before': before, "
        + "'loaded': [n for n in ('boto3', 'botocore.client', 'aws_xray_sdk.core') if n in sys.modules], "
        + "'unbuilt': unbuilt, 'clients': aws.client.cache_info().currsize + aws.table.cache_info().currsize}))",
    )

    assert found == {
        "boto3 before": False,
        "loaded": ["boto3", "botocore.client", "aws_xray_sdk.core"],
        "unbuilt": [],
        "clients": 0,
    }


def test_each_restored_environment_draws_other_random_numbers() -> None:
    # Two restores of one snapshot: the same interpreter state, as a snapshot's copies have.
    draws = run(
        "GetJobFunction",
        HOOKS
        + BEFORE_SNAPSHOT
        + "import random; snapshot = random.getstate(); draws = []\n"
        + "for _ in range(2):\n"
        + "    random.setstate(snapshot); "
        + AFTER_RESTORE
        + "draws.append(random.random())\n"
        + "random.setstate(snapshot); print(json.dumps([*draws, random.random()]))",
    )

    first, second, unseeded = draws
    assert len({first, second, unseeded}) == 3
