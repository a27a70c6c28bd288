"""devstack.motospeed: moto's DynamoDB Query reading one partition's key range instead of the whole
table answers exactly what moto answered before, page by page, whatever the key condition."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import backends, mock_aws
from moto.dynamodb.models.dynamo_type import Item
from moto.dynamodb.models.table import Table

from devstack import motospeed

QUERIES: list[dict[str, Any]] = [
    {"KeyConditionExpression": "pk = :pk", "ExpressionAttributeValues": {":pk": "TENANT#a"}},
    {
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :jobs)",
        "ExpressionAttributeValues": {":pk": "TENANT#a", ":jobs": "JOB#"},
        "ScanIndexForward": False,
        "Limit": 7,
    },
    {
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :grants)",
        "ExpressionAttributeValues": {":pk": "TENANT#a", ":grants": "GRANT#"},
        "ConsistentRead": True,
    },
    {
        "KeyConditionExpression": "pk = :pk AND sk BETWEEN :low AND :high",
        "ExpressionAttributeValues": {":pk": "TENANT#a", ":low": "JOB#010", ":high": "JOB#030"},
        "Limit": 4,
    },
    {
        "KeyConditionExpression": "pk = :pk AND sk > :after",
        "FilterExpression": "#n > :n",
        "ExpressionAttributeNames": {"#n": "n"},
        "ExpressionAttributeValues": {":pk": "TENANT#a", ":after": "JOB#040", ":n": 44},
        "Limit": 5,
    },
    {"KeyConditionExpression": "pk = :pk", "ExpressionAttributeValues": {":pk": "TENANT#nobody"}},
    {
        "IndexName": "ByN",
        "KeyConditionExpression": "kind = :kind AND n < :n",
        "ExpressionAttributeValues": {":kind": "job", ":n": 12},
        "Limit": 3,
    },
]


@pytest.fixture
def table() -> Iterator[Any]:
    with mock_aws():
        dynamodb = boto3.resource("dynamodb", region_name="us-east-1")
        table = dynamodb.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": name, "AttributeType": kind}
                for name, kind in (("pk", "S"), ("sk", "S"), ("kind", "S"), ("n", "N"))
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "ByN",
                    "KeySchema": [
                        {"AttributeName": "kind", "KeyType": "HASH"},
                        {"AttributeName": "n", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        with table.batch_writer() as batch:
            for tenant in ("a", "b"):
                for n in range(60):
                    batch.put_item(Item={"pk": f"TENANT#{tenant}", "sk": f"JOB#{n:03}", "kind": "job", "n": n})
                batch.put_item(Item={"pk": f"TENANT#{tenant}", "sk": "GRANT#media#", "kind": "grant", "n": 0})
                batch.put_item(Item={"pk": f"TENANT#{tenant}", "sk": "TENANT"})
        yield table


def pages(table: Any, query: dict[str, Any]) -> list[list[dict[str, Any]]]:
    """Every page of the query, following LastEvaluatedKey."""
    found, query = [], dict(query)
    while True:
        page = table.query(**query)
        found.append(page["Items"])
        if "LastEvaluatedKey" not in page:
            return found
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def items_sized(table: Any, monkeypatch: pytest.MonkeyPatch, query: dict[str, Any]) -> int:
    """How many items moto sizes (so reads) to answer the query."""
    sized, size = [0], Item.size

    def counted(item: Item) -> int:
        sized[0] += 1
        return size(item)

    monkeypatch.setattr(Item, "size", counted)
    table.query(**query)
    monkeypatch.setattr(Item, "size", size)
    return sized[0]


def test_a_query_answers_the_same_pages_when_it_reads_only_its_partition(
    table: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN moto as it comes (the local stacks of other tests may have installed the patch), and its answers
    monkeypatch.setattr(Table, "query", motospeed.moto_query)
    monkeypatch.setattr(Table, "all_items", motospeed.moto_all_items)
    before = [pages(table, query) for query in QUERIES]
    grants = QUERIES[2]
    assert items_sized(table, monkeypatch, grants) == 63  # the 62 items of its partition (and the one found again)
    assert [sum(map(len, answer)) for answer in before] == [62, 60, 1, 21, 15, 0, 24]

    # WHEN the local stack's patch is installed (undone after the test)
    monkeypatch.setattr(backends, "list_of_moto_modules", backends.list_of_moto_modules)
    motospeed.install()

    # THEN every query answers the same items in the same pages, reading only its key range
    assert [pages(table, query) for query in QUERIES] == before
    assert items_sized(table, monkeypatch, grants) == 2
    assert "dynamodb" in backends.list_of_moto_modules()
