"""The pure time-series aggregation: bucket edges, stamps, number kinds."""

from __future__ import annotations

import pytest

from otaserver.domain.aggregation import (
    Aggregation,
    aggregate,
    check_intervals,
    parse_aggregation,
)
from otaserver.domain.errors import BadRequest
from otaserver.domain.telemetry import TelemetryPoint


def series(*pairs: tuple[int, object]) -> list[TelemetryPoint]:
    return [TelemetryPoint("k", ts, value) for ts, value in pairs]


def test_buckets_are_half_open_and_stamped_in_their_middle() -> None:
    found = aggregate(series((0, 1), (9, 2), (10, 3), (25, 4)), "k", 0, 25, 10, Aggregation.COUNT)
    # [0,10) [10,20) [20,25): the last is cut at endTs, and 25 itself is outside.
    assert [(p.ts, p.value) for p in found] == [(5, 2), (15, 1)]
    last = aggregate(series((24, 1)), "k", 0, 25, 10, Aggregation.SUM)
    assert [(p.ts, p.value) for p in last] == [(22, 1)]


def test_an_empty_range_is_one_millisecond() -> None:
    found = aggregate(series((7, 1)), "k", 7, 7, 10, Aggregation.MAX)
    assert [(p.ts, p.value) for p in found] == [(7, 1)]


@pytest.mark.parametrize(
    ("aggregation", "values", "expected"),
    [
        (Aggregation.AVG, [1, 2], 1.5),
        (Aggregation.SUM, [1, 2], 3),
        (Aggregation.SUM, [1, 2.5], 3.5),
        (Aggregation.MIN, [3, 2], 2),
        (Aggregation.MIN, [3, 2.0], 2.0),
        (Aggregation.MAX, ["a", "b"], "b"),
        (Aggregation.MAX, ["z", 1], 1),
        (Aggregation.COUNT, [True, "x", None, {"a": 1}], 4),
        (Aggregation.AVG, [True, False], None),
        (Aggregation.SUM, ["1"], None),
    ],
)
def test_what_each_aggregation_takes(
    aggregation: Aggregation, values: list[object], expected: object
) -> None:
    found = aggregate(
        series(*((i, v) for i, v in enumerate(values))), "k", 0, 100, 100, aggregation
    )
    if expected is None:
        assert found == []
    else:
        [point] = found
        assert point.value == expected and type(point.value) is type(expected)


def test_parsing_and_the_interval_limit() -> None:
    assert parse_aggregation(None) is Aggregation.NONE
    assert parse_aggregation("") is Aggregation.NONE
    assert parse_aggregation("COUNT") is Aggregation.COUNT
    with pytest.raises(BadRequest):
        parse_aggregation("count")
    check_intervals(0, 7_000, 10)
    with pytest.raises(BadRequest):
        check_intervals(0, 7_010, 10)
