"""devstack.iam without a stack: IAM's evaluation, what each API call needs, and the botocore hooks
that refuse a call before it is sent and check presigned requests when they are signed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from devstack.iam import (
    Call,
    Guard,
    IamError,
    Request,
    Roles,
    Statement,
    allowed,
    managed_statements,
    requests_for,
    summarize,
)
from devstack.template import ACCOUNT_ID, REGION, Template

BUCKET = "arn:aws:s3:::photos"
TABLE = f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/jobs"
QUEUE = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:work"


def statement(**raw: Any) -> Statement:
    return Statement.parse({"Effect": "Allow", **raw}, "test", "template")


# ---- evaluation ---------------------------------------------------------------------------------


def test_wildcards_are_iams_star_and_question_mark_and_nothing_else() -> None:
    grant = [statement(Action="s3:Get*", Resource=f"{BUCKET}/[ab]?/*")]
    assert allowed(grant, Request("s3:GetObject", f"{BUCKET}/[ab]x/deep/key.jpg"))  # * spans slashes
    assert not allowed(grant, Request("s3:GetObject", f"{BUCKET}/a/x/key.jpg"))  # [ab] is not a class
    assert not allowed(grant, Request("s3:GetObject", f"{BUCKET}/[ab]xy/key.jpg"))  # ? is one character
    assert not allowed(grant, Request("s3:PutObject", f"{BUCKET}/[ab]x/key.jpg"))


def test_actions_match_whatever_their_case_resources_do_not() -> None:
    grant = [statement(Action="S3:getobject", Resource=f"{BUCKET}/Photos/*")]
    assert allowed(grant, Request("s3:GetObject", f"{BUCKET}/Photos/a.jpg"))
    assert not allowed(grant, Request("s3:GetObject", f"{BUCKET}/photos/a.jpg"))


def test_nothing_is_allowed_without_an_allow_and_an_explicit_deny_wins() -> None:
    grant = statement(Action="dynamodb:*", Resource=TABLE)
    deny = Statement.parse({"Effect": "Deny", "Action": "dynamodb:DeleteItem", "Resource": "*"}, "test", "template")
    assert not allowed([], Request("dynamodb:GetItem", TABLE))
    assert allowed([grant, deny], Request("dynamodb:GetItem", TABLE))
    assert not allowed([grant, deny], Request("dynamodb:DeleteItem", TABLE))


def test_not_action_and_not_resource_apply_to_everything_else() -> None:
    grant = [statement(NotAction="s3:DeleteObject", NotResource=f"{BUCKET}/private/*")]
    assert allowed(grant, Request("s3:PutObject", f"{BUCKET}/public/a"))
    assert not allowed(grant, Request("s3:DeleteObject", f"{BUCKET}/public/a"))
    assert not allowed(grant, Request("s3:PutObject", f"{BUCKET}/private/a"))


def test_conditions_hold_as_in_iam_including_absent_keys() -> None:
    def allows(condition: dict[str, Any], context: dict[str, str]) -> bool:
        grant = [statement(Action="s3:ListBucket", Resource=BUCKET, Condition=condition)]
        return allowed(grant, Request("s3:ListBucket", BUCKET, tuple(context.items())))

    assert allows({"StringLike": {"s3:prefix": ["outputs/*", "uploads/*"]}}, {"s3:prefix": "uploads/t1/"})
    assert not allows({"StringLike": {"s3:prefix": "outputs/*"}}, {"s3:prefix": "uploads/t1/"})
    assert allows({"StringEquals": {"S3:Prefix": "a"}}, {"s3:prefix": "a"})  # keys ignore case
    assert not allows({"StringEquals": {"s3:prefix": "a"}}, {})  # absent: false...
    assert allows({"StringNotEquals": {"s3:prefix": "a"}}, {})  # ...but negated operators hold
    assert allows({"StringEqualsIfExists": {"s3:prefix": "a"}}, {})
    assert not allows({"StringEqualsIfExists": {"s3:prefix": "a"}}, {"s3:prefix": "b"})
    assert allows({"Null": {"s3:prefix": "true"}}, {})
    assert not allows({"Null": {"s3:prefix": "false"}}, {})
    assert allows({"StringLike": {"s3:prefix": "a*"}, "StringNotLike": {"s3:prefix": "ab*"}}, {"s3:prefix": "ac"})
    assert not allows({"StringLike": {"s3:prefix": "a*"}, "StringNotLike": {"s3:prefix": "ab*"}}, {"s3:prefix": "ab"})


def test_what_the_check_cannot_evaluate_is_refused_loudly() -> None:
    with pytest.raises(IamError, match="ForAnyValue"):
        statement(Action="*", Resource="*", Condition={"ForAnyValue:StringEquals": {"aws:TagKeys": "a"}})
    with pytest.raises(IamError, match="DateGreaterThan"):
        statement(Action="*", Resource="*", Condition={"DateGreaterThan": {"aws:CurrentTime": "2020-01-01"}})
    with pytest.raises(IamError, match="policy variables"):
        statement(Action="s3:GetObject", Resource="arn:aws:s3:::b/${aws:username}/*")
    with pytest.raises(IamError, match="not an AWS managed policy"):
        managed_statements("arn:aws:iam::aws:policy/NoSuchPolicy")


def test_the_managed_policies_sam_attaches_are_known() -> None:
    (basic,) = managed_statements("arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
    assert basic["Action"] == ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
    (sqs,) = managed_statements("arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole")
    assert "sqs:ReceiveMessage" in sqs["Action"]
    assert "sqs:ChangeMessageVisibility" not in sqs["Action"]


# ---- what a call needs --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "operation", "params", "expected"),
    [
        ("s3", "HeadObject", {"Bucket": "photos", "Key": "a"}, [("s3:GetObject", f"{BUCKET}/a")]),
        (
            "s3",
            "GetObject",
            {"Bucket": "photos", "Key": "a", "VersionId": "v"},
            [("s3:GetObjectVersion", f"{BUCKET}/a")],
        ),
        ("s3", "ListObjectsV2", {"Bucket": "photos", "Prefix": "outputs/"}, [("s3:ListBucket", BUCKET)]),
        ("s3", "HeadBucket", {"Bucket": "photos"}, [("s3:ListBucket", BUCKET)]),
        (
            "s3",
            "DeleteObjects",
            {"Bucket": "photos", "Delete": {"Objects": [{"Key": "a"}, {"Key": "b"}]}},
            [("s3:DeleteObject", f"{BUCKET}/a"), ("s3:DeleteObject", f"{BUCKET}/b")],
        ),
        (
            "s3",
            "PutObject",
            {"Bucket": "photos", "Key": "a", "ACL": "private", "Tagging": "k=v"},
            [
                ("s3:PutObject", f"{BUCKET}/a"),
                ("s3:PutObjectAcl", f"{BUCKET}/a"),
                ("s3:PutObjectTagging", f"{BUCKET}/a"),
            ],
        ),
        (
            "s3",
            "CopyObject",
            {"Bucket": "photos", "Key": "b", "CopySource": "other/a"},
            [("s3:GetObject", "arn:aws:s3:::other/a"), ("s3:PutObject", f"{BUCKET}/b")],
        ),
        (
            "dynamodb",
            "Query",
            {"TableName": "jobs", "IndexName": "by-status"},
            [("dynamodb:Query", f"{TABLE}/index/by-status")],
        ),
        (
            "dynamodb",
            "BatchGetItem",
            {"RequestItems": {"jobs": {}, "keys": {}}},
            [("dynamodb:BatchGetItem", TABLE), ("dynamodb:BatchGetItem", TABLE.replace("jobs", "keys"))],
        ),
        (
            "dynamodb",
            "TransactWriteItems",
            {"TransactItems": [{"Put": {"TableName": "jobs"}}, {"ConditionCheck": {"TableName": "keys"}}]},
            [("dynamodb:PutItem", TABLE), ("dynamodb:ConditionCheckItem", TABLE.replace("jobs", "keys"))],
        ),
        (
            "sqs",
            "SendMessageBatch",
            {"QueueUrl": f"http://127.0.0.1:3001/{ACCOUNT_ID}/work"},
            [("sqs:SendMessage", QUEUE)],
        ),
        (
            "sqs",
            "ChangeMessageVisibility",
            {"QueueUrl": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/work"},
            [("sqs:ChangeMessageVisibility", QUEUE)],
        ),
        (
            "events",
            "PutEvents",
            {"Entries": [{"EventBusName": "jobs"}, {"Source": "x"}]},
            [
                ("events:PutEvents", f"arn:aws:events:{REGION}:{ACCOUNT_ID}:event-bus/jobs"),
                ("events:PutEvents", f"arn:aws:events:{REGION}:{ACCOUNT_ID}:event-bus/default"),
            ],
        ),
        (
            "apigateway",
            "GetUsage",
            {"usagePlanId": "p1", "keyId": "k1", "startDate": "2026-01-01", "endDate": "2026-01-01"},
            [("apigateway:GET", f"arn:aws:apigateway:{REGION}::/usageplans/p1/usage")],
        ),
        (
            "apigateway",
            "GetUsagePlan",
            {"usagePlanId": "p1"},
            [("apigateway:GET", f"arn:aws:apigateway:{REGION}::/usageplans/p1")],
        ),
        (
            "apigateway",
            "GetApiKeys",
            {"nameQuery": "key_1"},
            [("apigateway:GET", f"arn:aws:apigateway:{REGION}::/apikeys")],
        ),
    ],
)
def test_each_call_needs_what_iam_authorizes_for_it(
    service: str, operation: str, params: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    assert [(r.action, r.resource) for r in requests_for(service, operation, params)] == expected


def test_listing_carries_its_prefix_and_events_their_source_as_condition_keys() -> None:
    (listing,) = requests_for("s3", "ListObjectsV2", {"Bucket": "photos", "Prefix": "outputs/t1/"})
    assert listing.context == (("s3:prefix", "outputs/t1/"),)
    (event,) = requests_for("events", "PutEvents", {"Entries": [{"Source": "imagejobs", "DetailType": "Job Failed"}]})
    assert dict(event.context) == {"events:source": "imagejobs", "events:detail-type": "Job Failed"}


# ---- the hooks ----------------------------------------------------------------------------------

ROLE = [
    statement(Action=["s3:GetObject"], Resource=f"{BUCKET}/outputs/*"),
    statement(Action=["dynamodb:GetItem"], Resource=TABLE),
]


@pytest.fixture
def guarded() -> Iterator[tuple[boto3.Session, Guard, dict[str, str | None]]]:
    """A session whose clients a guard watches, with `running["function"]` as the function running;
    its endpoint is a closed port, so a call that was sent fails to connect."""
    session = boto3.Session(aws_access_key_id="k", aws_secret_access_key="s", region_name=REGION)
    running: dict[str, str | None] = {"function": "Fn"}
    guard = Guard(Roles({"Fn": "FnRole"}, {"Fn": ROLE}), lambda: running["function"]).install(session)
    yield session, guard, running
    guard.close()


def client(session: boto3.Session, service: str) -> Any:
    return session.client(service, endpoint_url="http://127.0.0.1:9", config=Config(retries={"max_attempts": 1}))


def test_a_call_the_role_does_not_allow_is_refused_as_aws_refuses_it_and_never_sent(guarded: Any) -> None:
    session, guard, _ = guarded
    with pytest.raises(ClientError) as s3_refusal:
        client(session, "s3").put_object(Bucket="photos", Key="outputs/a", Body=b"x")
    with pytest.raises(ClientError) as dynamodb_refusal:
        client(session, "dynamodb").delete_item(TableName="jobs", Key={"pk": {"S": "a"}})
    assert s3_refusal.value.response["Error"]["Code"] == "AccessDenied"
    assert s3_refusal.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert (
        "assumed-role/FnRole/Fn is not authorized to perform: s3:PutObject on resource: arn:aws:s3:::photos/outputs/a"
        in str(s3_refusal.value)
    )
    assert dynamodb_refusal.value.response["Error"]["Code"] == "AccessDeniedException"
    assert {(c.action, c.allowed) for c in guard.calls} == {("s3:PutObject", False), ("dynamodb:DeleteItem", False)}


def test_an_allowed_call_is_sent_and_calls_outside_a_function_are_not_checked(guarded: Any) -> None:
    session, guard, running = guarded
    with pytest.raises(Exception, match="Could not connect"):  # sent: nothing listens there
        client(session, "dynamodb").get_item(TableName="jobs", Key={"pk": {"S": "a"}})
    running["function"] = None
    with pytest.raises(Exception, match="Could not connect"):
        client(session, "dynamodb").delete_item(TableName="jobs", Key={"pk": {"S": "a"}})
    assert [(c.function, c.action, c.allowed) for c in guard.calls] == [("Fn", "dynamodb:GetItem", True)]


def test_presigned_requests_are_checked_when_signed_and_refusals_recorded_not_raised(guarded: Any) -> None:
    session, guard, _ = guarded
    s3 = client(session, "s3")
    s3.generate_presigned_url("get_object", Params={"Bucket": "photos", "Key": "outputs/a.webp"})
    s3.generate_presigned_url("get_object", Params={"Bucket": "photos", "Key": "uploads/b.jpg"})
    s3.generate_presigned_post("photos", "uploads/c.jpg", Conditions=[["content-length-range", 1, 10]])
    assert sorted((c.operation, c.action, c.resource, c.allowed, c.presigned) for c in guard.calls) == [
        ("s3.GetObject", "s3:GetObject", f"{BUCKET}/outputs/a.webp", True, True),
        ("s3.GetObject", "s3:GetObject", f"{BUCKET}/uploads/b.jpg", False, True),
        ("s3.PostObject", "s3:PutObject", f"{BUCKET}/uploads/c.jpg", False, True),
    ]


def test_an_operation_the_check_does_not_know_is_refused(guarded: Any) -> None:
    session, guard, _ = guarded
    with pytest.raises(ClientError, match="add it to requests_for"):
        client(session, "s3").get_bucket_policy(Bucket="photos")
    assert [(c.action, c.resource, c.allowed) for c in guard.calls] == [("s3:GetBucketPolicy", "?", False)]


def test_a_trial_runs_under_other_roles_and_keeps_its_calls_apart(guarded: Any) -> None:
    session, guard, _ = guarded
    wider = Roles({"Fn": "FnRole"}, {"Fn": [statement(Action="s3:*", Resource=f"{BUCKET}/*")]})
    with guard.trial(wider) as calls:
        client(session, "s3").generate_presigned_url("get_object", Params={"Bucket": "photos", "Key": "uploads/b"})
    assert [(c.resource, c.allowed) for c in calls] == [(f"{BUCKET}/uploads/b", True)]
    assert guard.calls == set()
    assert guard.roles.statements["Fn"] == ROLE


# ---- roles and the summary ------------------------------------------------------------------------


def test_roles_resolve_against_the_local_stacks_resources() -> None:
    template = Template(body={"Resources": {}}, stack_name="local", refs={"Table": "local-Table"})
    translated = {
        "Fn": {
            "role": "FnRole",
            "policies": [
                {
                    "name": "FnRolePolicy0",
                    "origin": "template",
                    "label": "DynamoDBReadPolicy(Table)",
                    "statements": [
                        {
                            "Effect": "Allow",
                            "Action": ["dynamodb:GetItem"],
                            "Resource": {
                                "Fn::Sub": [
                                    "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${t}",
                                    {"t": {"Ref": "Table"}},
                                ]
                            },
                        }
                    ],
                }
            ],
            "managed": ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],
        }
    }
    roles = Roles.resolve(translated, template)
    table, logs = roles.statements["Fn"]
    assert (table.resources, table.policy, table.origin) == (
        (f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/local-Table",),
        "DynamoDBReadPolicy(Table)",
        "template",
    )
    assert (logs.policy, logs.origin, logs.resources) == ("AWSLambdaBasicExecutionRole", "managed", ("*",))


@pytest.mark.parametrize(("anonymous", "resources"), [("false", ["plan/keyed"]), ("true", ["plan/keyed", "plan/anon"])])
def test_a_resource_that_is_aws_no_value_is_left_out_as_cloudformation_leaves_it_out(
    anonymous: str, resources: list[str]
) -> None:
    template = Template(
        body={"Resources": {}, "Conditions": {"Anonymous": {"Fn::Equals": [{"Ref": "AllowAnonymous"}, "true"]}}},
        stack_name="local",
        parameters={"AllowAnonymous": anonymous},
        refs={"KeyedPlan": "keyed", "AnonymousPlan": "anon"},
    )
    statement = {
        "Resource": [
            {"Fn::Sub": "plan/${KeyedPlan}"},
            {"Fn::If": ["Anonymous", {"Fn::Sub": "plan/${AnonymousPlan}"}, {"Ref": "AWS::NoValue"}]},
        ],
        "Condition": {"Fn::If": ["Anonymous", {"Bool": {"aws:SecureTransport": "true"}}, {"Ref": "AWS::NoValue"}]},
    }

    resolved = template.resolve(statement)

    assert resolved["Resource"] == resources
    assert ("Condition" in resolved) == (anonymous == "true")


def test_the_summary_names_refusals_and_what_the_template_grants_that_no_call_used(tmp_path: Path) -> None:
    role = [
        Statement.parse(
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "*"}, "S3(B)", "template"
        ),
        Statement.parse({"Effect": "Allow", "Action": "sqs:Send*", "Resource": QUEUE}, "SQS(Q)", "template"),
        Statement.parse({"Effect": "Allow", "Action": "logs:*", "Resource": "*"}, "Basic", "managed"),
    ]
    calls = [
        Call("Fn", "s3.GetObject", "s3:GetObject", f"{BUCKET}/a", True),
        Call("Fn", "sqs.SendMessage", "sqs:SendMessage", QUEUE.replace("work", "other"), False),
        Call("Fn", "s3.GetObject", "s3:GetObject", f"{BUCKET}/b", False, presigned=True),
        Call("Fn", "s3.GetObject", "s3:GetObject", f"{BUCKET}/c", False, presigned=True),
    ]
    record = tmp_path / "stack-1.jsonl"
    roles = {"Fn": [{**s.__dict__, "conditions": []} for s in role]}
    lines = [json.dumps({"roles": roles})] + [json.dumps({"call": {**c.__dict__, "context": []}}) for c in calls]
    record.write_text("\n".join(lines) + "\n")
    summary = summarize([record])
    assert sorted((c.action, c.resource) for c in summary.refused) == [
        ("s3:GetObject", f"{BUCKET}/b"),
        ("s3:GetObject", f"{BUCKET}/c"),
        ("sqs:SendMessage", QUEUE.replace("work", "other")),
    ]
    assert summary.unused == {"Fn": {"S3(B)": ["s3:PutObject"], "SQS(Q)": ["sqs:Send*"]}}
    assert "  Fn SQS(Q): all 1 of its actions" in summary.lines()
    assert "  Fn S3(B): s3:PutObject" in summary.lines()
    assert f"  REFUSED Fn: sqs:SendMessage on {QUEUE.replace('work', 'other')} by sqs.SendMessage" in summary.lines()
    assert any(line.startswith("  REFUSED Fn: s3:GetObject on 2 resources, as") for line in summary.lines())
