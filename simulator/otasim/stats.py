"""Percentiles and the bounded samples that summaries keep so that they can merge.

Percentiles are nearest-rank: the p-th percentile of n values is the smallest value with at least
p% of the values at or below it (the ceil(p * n / 100)-th smallest). It is always a value that was
measured, never an interpolation, and it is exact on small fleets, where tests check numbers.

A summary keeps at most `SAMPLE_LIMIT` values of each distribution: evenly spaced order statistics
of the sorted values (the smallest and the largest among them). A merge weighs each part's values
by how many measurements they stand for, so a worker that kept 20 000 of 600 000 round trips
counts thirty times as much per value as one that kept all of its 20 000.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

SAMPLE_LIMIT = 20_000
QUANTILES = (50, 90, 99)

# {"count": int, "p50": float | None, "p90": ..., "p99": ..., "max": ...}; None when count is 0.
Percentiles = dict[str, float | int | None]


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank p-th percentile (0 < p <= 100) of already sorted, non-empty values."""
    rank = max(1, -(-p * len(sorted_values) // 100))
    return sorted_values[int(rank) - 1]


def percentiles(values: Iterable[float]) -> Percentiles:
    """count, p50, p90, p99 and max of `values` (None for all but count when there are none)."""
    ordered = sorted(values)
    result: Percentiles = {"count": len(ordered)}
    for q in QUANTILES:
        result[f"p{q}"] = percentile(ordered, q) if ordered else None
    result["max"] = ordered[-1] if ordered else None
    return result


def downsample(values: Iterable[float], limit: int = SAMPLE_LIMIT) -> list[float]:
    """The sorted values, or `limit` evenly spaced order statistics of them (min and max kept)."""
    ordered = sorted(values)
    n = len(ordered)
    if n <= limit:
        return ordered
    if limit < 2:
        return ordered[-limit:] if limit > 0 else []
    return [ordered[(i * (n - 1) + (limit - 1) // 2) // (limit - 1)] for i in range(limit)]


def merge_samples(
    parts: Sequence[tuple[Sequence[float], int]], limit: int = SAMPLE_LIMIT
) -> tuple[Percentiles, list[float]]:
    """Percentiles and a merged sample from (kept sample, measurements it stands for) pairs.

    Exact when no part was downsampled; otherwise each kept value weighs count / len(sample).
    """
    weighted: list[tuple[float, float]] = []
    count = 0
    for sample, n in parts:
        count += n
        if sample:
            weight = n / len(sample)
            weighted.extend((v, weight) for v in sample)
    if not weighted:
        return {"count": count, "p50": None, "p90": None, "p99": None, "max": None}, []
    weighted.sort()
    cumulative: list[float] = []
    total = 0.0
    for _, w in weighted:
        total += w
        cumulative.append(total)
    result: Percentiles = {"count": count}
    for q in QUANTILES:
        result[f"p{q}"] = _weighted_at(weighted, cumulative, q * total / 100)
    result["max"] = weighted[-1][0]
    if len(weighted) <= limit and all(w == 1.0 for _, w in weighted):
        return result, [v for v, _ in weighted]
    if limit < 2:
        return result, [weighted[-1][0]] if limit > 0 else []
    sample = [weighted[0][0]]
    sample += [_weighted_at(weighted, cumulative, i * total / (limit - 1)) for i in range(1, limit)]
    return result, sample


def _weighted_at(
    weighted: Sequence[tuple[float, float]], cumulative: Sequence[float], target: float
) -> float:
    """The first value whose cumulative weight reaches `target` (else the last one)."""
    lo, hi = 0, len(cumulative) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if cumulative[mid] >= target:
            hi = mid
        else:
            lo = mid + 1
    return weighted[lo][0]
