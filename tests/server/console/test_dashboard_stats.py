"""The pure figures behind the timeline and the durations."""

from __future__ import annotations

import uuid

from otaserver.domain.dashboard_stats import (
    Timeline,
    duration_stats,
    durations_between,
    update_duration,
)


def test_timeline_buckets_end_at_the_end_and_carry_states_forward() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    timeline = Timeline.over(0, 10, 3)  # 4, 4 and a last bucket of 2
    assert timeline.interval_ms == 4
    points = timeline.points(
        {a: "QUEUED", b: "IDLE"},  # IDLE counts in no tab
        [(0, a, "DOWNLOADING"), (2, a, "UPDATED"), (2, b, "FAILED")],
    )
    assert [(p["ts"], p["waiting"], p["updating"], p["updated"], p["failed"]) for p in points] == [
        (4, 0, 1, 0, 0),
        (8, 0, 1, 0, 0),
        (10, 0, 0, 1, 1),
    ]


def test_durations_percentiles_and_bins() -> None:
    stats = duration_stats([300, 100, 200, 400, 1000])
    assert (stats["count"], stats["p50"], stats["p90"], stats["p99"]) == (5, 300, 1000, 1000)
    bins = stats["bins"]
    assert bins[0]["fromMs"] == 100 and bins[-1]["fromMs"] <= 1000 < bins[-1]["toMs"]
    assert sum(b["count"] for b in bins) == 5 and len(bins) <= 20
    assert duration_stats([7]) == {
        "count": 1,
        "p50": 7,
        "p90": 7,
        "p99": 7,
        "bins": [{"fromMs": 7, "toMs": 8, "count": 1}],
    }
    assert duration_stats([])["bins"] == []


def test_update_duration_prefers_queued_and_history_gaps() -> None:
    assert update_duration(100, 10, 40) == 90
    assert update_duration(100, None, 40) == 60
    assert update_duration(100, None, None) is None
    assert durations_between([5, 8, 20]) == [3, 12, None]
    assert durations_between([]) == []
