"""ThingsBoard's time-series aggregation: values of fixed-length buckets between two times.

A bucket covers [start, min(start + interval, end)) and is stamped with its middle; a bucket
without a value to aggregate is left out, and buckets come oldest first (ThingsBoard's SQL
storage does the same, ignoring `limit` and `orderBy` once it aggregates).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from .errors import BadRequest
from .telemetry import JsonValue, TelemetryPoint

# ThingsBoard's default `maxTsIntervals`: more buckets than this in one query is refused.
MAX_INTERVALS = 700


class Aggregation(StrEnum):
    NONE = "NONE"
    AVG = "AVG"
    MIN = "MIN"
    MAX = "MAX"
    SUM = "SUM"
    COUNT = "COUNT"


def parse_aggregation(text: str | None) -> Aggregation:
    if not text:
        return Aggregation.NONE
    try:
        return Aggregation(text)
    except ValueError:
        allowed = ", ".join(a.value for a in Aggregation)
        raise BadRequest(f"Parameter 'agg' must be one of {allowed}") from None


def check_intervals(start_ts: int, end_ts: int, interval: int) -> None:
    """Refuses a query of more than MAX_INTERVALS buckets, as ThingsBoard does."""
    if (end_ts - start_ts) // interval > MAX_INTERVALS:
        raise BadRequest(
            f"Number of intervals is too high: {(end_ts - start_ts) // interval} "
            f"(at most {MAX_INTERVALS}); increase 'interval' or shorten the time range"
        )


def aggregate(
    points: Sequence[TelemetryPoint],
    key: str,
    start_ts: int,
    end_ts: int,
    interval: int,
    aggregation: Aggregation,
) -> list[TelemetryPoint]:
    """The aggregated points of one key; `points` may come in any order."""
    assert aggregation is not Aggregation.NONE and interval > 0
    end = max(start_ts + 1, end_ts)
    buckets: dict[int, list[JsonValue]] = {}
    for point in points:
        if start_ts <= point.ts < end:
            buckets.setdefault((point.ts - start_ts) // interval, []).append(point.value)
    found = []
    for index in sorted(buckets):
        low = start_ts + index * interval
        high = min(low + interval, end)
        value = _reduce(buckets[index], aggregation)
        if value is not None:
            found.append(TelemetryPoint(key, low + (high - low) // 2, value))
    return found


def _reduce(values: list[JsonValue], aggregation: Aggregation) -> JsonValue:
    """One bucket's value, or None when it has nothing to aggregate.

    COUNT counts every value; AVG and SUM take the numbers (booleans are not numbers); MIN and
    MAX the numbers, else the strings. Whole numbers stay whole unless a fraction is among them
    or it is an average, as with ThingsBoard's long and double columns.
    """
    if aggregation is Aggregation.COUNT:
        return len(values)
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    whole = all(isinstance(v, int) for v in numbers)
    if aggregation is Aggregation.AVG:
        return sum(numbers) / len(numbers) if numbers else None
    if aggregation is Aggregation.SUM:
        return (sum(numbers) if whole else float(sum(numbers))) if numbers else None
    pick = min if aggregation is Aggregation.MIN else max
    if numbers:
        chosen = pick(numbers)
        return chosen if whole else float(chosen)
    texts = [v for v in values if isinstance(v, str)]
    return pick(texts) if texts else None
