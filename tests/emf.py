"""CloudWatch Embedded Metric Format read back: the metrics CloudWatch would make of what a function
printed, one per metric and dimension set of each EMF document."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Datum:
    namespace: str
    name: str
    unit: str
    dimensions: tuple[tuple[str, str], ...]  # sorted (name, value) pairs
    values: tuple[float, ...]

    @property
    def dimension_names(self) -> frozenset[str]:
        return frozenset(name for name, _ in self.dimensions)


def read(output: str) -> list[Datum]:
    """Every metric of every EMF document (a JSON line with `_aws`) in `output`; other lines are skipped."""
    data = []
    for line in output.splitlines():
        try:
            document: Any = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(document, dict) or "_aws" not in document:
            continue
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for dimension_set in directive["Dimensions"]:
                dimensions = tuple(sorted((name, document[name]) for name in dimension_set))
                assert all(isinstance(value, str) for _, value in dimensions), dimensions
                for metric in directive["Metrics"]:
                    value = document[metric["Name"]]
                    values = tuple(value) if isinstance(value, list) else (value,)
                    data.append(Datum(directive["Namespace"], metric["Name"], metric["Unit"], dimensions, values))
    return data
