"""The check of the server's pace: pushes of the target package, at most pack_size per interval.

The input is the arrival times (seconds) of push notifications only; answers to a device's own
request are not paced by the server's queue. The server sends a pack at most every interval, but
arrival jitter can put the tail of one pack and the head of the next into one window of exactly
the interval, so the windows checked are (interval - tolerance) long, tolerance capped at half the
interval. A window holds the pushes t with start <= t < start + window, for a start at each push.

`violations` counts distinct offending windows: scanning the pushes in time order, a window that
holds more than pack_size is one violation, and the scan resumes at the first push after it ends.
Disjoint windows make the figure grow with how long the server ran too fast (ten intervals at
twice the rate give about ten), not with how many devices it notified at once.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

DEFAULT_TOLERANCE_MS = 100.0


def window_ms(interval_ms: float, tolerance_ms: float = DEFAULT_TOLERANCE_MS) -> float:
    """The checked window: the interval less the jitter tolerance (at most half the interval)."""
    return interval_ms - min(max(tolerance_ms, 0.0), interval_ms / 2)


def max_in_window(times: list[float], window_s: float) -> int:
    """The largest number of `times` (sorted) in any [t, t + window_s) starting at one of them."""
    best = 0
    end = 0
    for start, t in enumerate(times):
        end = max(end, start)
        while end < len(times) and times[end] < t + window_s:
            end += 1
        best = max(best, end - start)
    return best


def count_violations(times: list[float], window_s: float, pack_size: int) -> int:
    """Distinct disjoint windows (sorted `times`) holding more than pack_size pushes."""
    violations = 0
    start = 0
    end = 0
    n = len(times)
    while start < n:
        end = max(end, start)
        limit = times[start] + window_s
        while end < n and times[end] < limit:
            end += 1
        if end - start > pack_size:
            violations += 1
            start = end  # the next window starts after this one ends
        else:
            start += 1
    return violations


def allowed_rate_fraction(times: list[float], pack_size: int, interval_ms: float) -> float | None:
    """How close to the allowed rate the pushes came: ideal span / actual span (sorted `times`).

    With n pushes, sending full packs every interval spans (ceil(n / pack_size) - 1) intervals;
    1.0 means the server kept the full allowed rate while a backlog remained, below 1 slower,
    above 1 faster than allowed. None when n <= pack_size (nothing had to wait). The actual span
    is floored at 1 ms so that an unthrottled burst gives a large finite figure.
    """
    n = len(times)
    if pack_size <= 0 or n <= pack_size:
        return None
    ideal_s = (math.ceil(n / pack_size) - 1) * interval_ms / 1000
    span_s = max(times[-1] - times[0], 0.001)
    return ideal_s / span_s


def check_pace(
    push_times: Iterable[float],
    pack_size: int,
    interval_ms: float,
    tolerance_ms: float = DEFAULT_TOLERANCE_MS,
    first_push_times: Iterable[float] | None = None,
) -> dict[str, Any]:
    """The summary's "pace" object for these push arrival times (seconds, any order).

    The rate is judged on `first_push_times` when given (each device's first push): the backlog
    of the assignment, without the later renotifications of devices the server retried."""
    times = sorted(push_times)
    firsts = times if first_push_times is None else sorted(first_push_times)
    window = window_ms(interval_ms, tolerance_ms)
    return {
        "window_ms": window,
        "max_in_window": max_in_window(times, window / 1000),
        "violations": count_violations(times, window / 1000, pack_size),
        "allowed_rate_fraction": allowed_rate_fraction(firsts, pack_size, interval_ms),
        "notifications": len(times),
    }


def per_interval(push_times: Iterable[float], interval_ms: float) -> list[list[float]]:
    """[[bucket start (s), pushes]] for the non-empty buckets of one interval from t = 0."""
    if interval_ms <= 0:
        return []
    width = interval_ms / 1000
    counts: dict[int, int] = {}
    for t in push_times:
        bucket = math.floor(t / width)
        counts[bucket] = counts.get(bucket, 0) + 1
    return [[round(bucket * width, 6), counts[bucket]] for bucket in sorted(counts)]
