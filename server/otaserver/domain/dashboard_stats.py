"""The dashboard's figures over time: devices per tab along a timeline, update durations.

Pure: the states and times come in, the figures go out.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from .orchestration import TAB_OF, Tab, known_status

DURATION_BINS = 20


@dataclass(frozen=True)
class Timeline:
    start_ts: int
    end_ts: int
    interval_ms: int
    buckets: int

    @classmethod
    def over(cls, start_ts: int, end_ts: int, buckets: int) -> Timeline:
        """`buckets` buckets of equal length (the last may be shorter) from start to end."""
        return cls(start_ts, end_ts, max(1, -(-(end_ts - start_ts) // buckets)), buckets)

    def end_of(self, bucket: int) -> int:
        return min(self.start_ts + (bucket + 1) * self.interval_ms, self.end_ts)

    def points(
        self, before: Mapping[UUID, Any], changes: Iterable[tuple[int, UUID, Any]]
    ) -> list[dict[str, int]]:
        """Devices per tab at the end of each bucket, from each device's state at the start
        and its last state in each bucket (`changes`, ordered by bucket)."""
        tab_of: dict[UUID, Tab | None] = {d: _tab(state) for d, state in before.items()}
        counts: Counter[Tab | None] = Counter(tab_of.values())
        pending = iter(changes)
        change = next(pending, None)
        points = []
        for bucket in range(self.buckets):
            while change is not None and change[0] <= bucket:
                _, device_id, state = change
                counts[tab_of.get(device_id)] -= 1
                tab_of[device_id] = _tab(state)
                counts[tab_of[device_id]] += 1
                change = next(pending, None)
            points.append({"ts": self.end_of(bucket), **{t.value: counts[t] for t in Tab}})
        return points


def _tab(state: Any) -> Tab | None:
    known = known_status(state)
    return None if known is None else TAB_OF[known]


def update_duration(updated_ts: int, queued_ts: int | None, initiated_ts: int | None) -> int | None:
    """From QUEUED (else INITIATED) to UPDATED; None when the history has neither."""
    start = queued_ts if queued_ts is not None else initiated_ts
    return None if start is None else max(0, updated_ts - start)


def duration_stats(durations: Sequence[int], bins: int = DURATION_BINS) -> dict[str, Any]:
    """Count, nearest-rank percentiles and a histogram of equal-width bins [fromMs, toMs)."""
    ordered = sorted(durations)
    if not ordered:
        return {"count": 0, "p50": None, "p90": None, "p99": None, "bins": []}
    low, high = ordered[0], ordered[-1]
    width = max(1, -(-(high - low + 1) // bins))
    counts = Counter((d - low) // width for d in ordered)
    return {
        "count": len(ordered),
        "p50": _percentile(ordered, 50),
        "p90": _percentile(ordered, 90),
        "p99": _percentile(ordered, 99),
        "bins": [
            {"fromMs": low + i * width, "toMs": low + (i + 1) * width, "count": counts[i]}
            for i in range((high - low) // width + 1)
        ],
    }


def _percentile(ordered: Sequence[int], percent: int) -> int:
    return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)]


def durations_between(entries: Sequence[int]) -> list[int | None]:
    """Each entry's time until the next one; None for the last."""
    between: list[int | None] = [later - ts for ts, later in itertools.pairwise(entries)]
    return [*between, None] if entries else []
