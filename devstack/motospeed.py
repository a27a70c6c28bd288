"""moto's server, as fast per request as the local stack needs for a batch of thousands of jobs.

Two things make moto's cost per request grow, none of which the services it stands for do:
- every DynamoDB Query reads, sorts and sizes every item of the table to find those of one
  partition and sort-key range (so the 2,000th job of a batch paid for the 1,999 before it); here
  a Query on the table's own key reads the items of its key range only, as DynamoDB does (index
  queries still read the whole table: no hot path makes one);
- every request lists moto's package folder on disk to find its service; here, once.
"""

from __future__ import annotations

import functools
from contextvars import ContextVar
from typing import Any

from moto import backends
from moto.dynamodb.models.table import Table

# moto's own, as they are before `install`
_list_of_moto_modules = backends.list_of_moto_modules
moto_query, moto_all_items = Table.query, Table.all_items
# The key range the Query running in this thread reads (hash key, comparison, values), if it is
# one on the table's own key.
_PARTITION: ContextVar[Any] = ContextVar("_PARTITION", default=None)


def install() -> None:
    """Patches moto's DynamoDB tables and service lookup, in this process (idempotent)."""
    if getattr(Table.query, "_by_partition", False):
        return
    backends.list_of_moto_modules = functools.cache(lambda: tuple(_list_of_moto_modules()))

    def all_items(self: Table) -> list[Any]:
        partition = _PARTITION.get()
        if partition is None:
            return moto_all_items(self)
        hash_key, comparison, values = partition
        items = self.items.get(hash_key)
        if items is None:
            return []
        if not self.range_key_attr:
            return [items]
        return sorted(
            (item for item in items.values() if comparison is None or item.range_key.compare(comparison, values)),
            key=lambda item: item.range_key,
        )

    def query(self: Table, hash_key: Any, comparison: str | None, values: list[Any], *args: Any, **kwargs: Any) -> Any:
        index_name = args[4] if len(args) > 4 else kwargs.get("index_name")
        token = _PARTITION.set((hash_key, comparison, values) if index_name is None and hash_key is not None else None)
        try:
            return moto_query(self, hash_key, comparison, values, *args, **kwargs)
        finally:
            _PARTITION.reset(token)

    query._by_partition = True  # type: ignore[attr-defined]
    Table.all_items, Table.query = all_items, query  # type: ignore[method-assign,assignment]
