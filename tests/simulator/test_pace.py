"""The pace check: pushes per window of (interval - tolerance) against the pack size."""

from __future__ import annotations

import random
import time

import pytest
from otasim.pace import check_pace, count_violations, max_in_window, per_interval, window_ms


def paced(per_pack: int, packs: int, interval_s: float = 2.0, seed: int = 1) -> list[float]:
    """`packs` packs of `per_pack` pushes, each pack arriving within 30 ms of its send."""
    rng = random.Random(seed)
    return [k * interval_s + rng.uniform(0.0, 0.03) for k in range(packs) for _ in range(per_pack)]


def test_a_stream_paced_at_the_limit_passes_at_the_full_allowed_rate() -> None:
    pace = check_pace(paced(50, 20), pack_size=50, interval_ms=2000)
    assert pace["violations"] == 0
    assert pace["max_in_window"] == 50
    assert pace["notifications"] == 1000
    assert pace["window_ms"] == 1900
    assert pace["allowed_rate_fraction"] == pytest.approx(1.0, abs=0.01)


def test_a_stream_at_twice_the_rate_is_flagged_once_per_pack() -> None:
    pace = check_pace(paced(100, 10), pack_size=50, interval_ms=2000)
    assert pace["max_in_window"] == 100
    assert pace["violations"] == 10
    # 1000 pushes need 19 intervals at the allowed rate; they took 9.
    assert pace["allowed_rate_fraction"] == pytest.approx(19 / 9, rel=0.01)


def test_a_slower_server_reaches_a_fraction_of_the_allowed_rate() -> None:
    pace = check_pace(paced(25, 21), pack_size=50, interval_ms=2000)
    assert pace["violations"] == 0
    # 525 pushes need 10 intervals at the full rate; they took 20.
    assert pace["allowed_rate_fraction"] == pytest.approx(0.5, rel=0.01)


def test_jitter_within_the_tolerance_is_not_flagged_but_would_be_without_it() -> None:
    # A late pack followed by an early one: 80 ms of spread, within the 100 ms tolerance.
    rng = random.Random(3)
    times = []
    for k in range(20):
        low, high = (0.0, 0.04) if k % 2 == 0 else (-0.04, 0.0)
        times += [2.0 * k + rng.uniform(low, high) for _ in range(50)]
    assert check_pace(times, pack_size=50, interval_ms=2000)["violations"] == 0
    assert check_pace(times, pack_size=50, interval_ms=2000)["max_in_window"] == 50
    strict = check_pace(times, pack_size=50, interval_ms=2000, tolerance_ms=0)
    assert strict["violations"] > 0
    assert strict["max_in_window"] > 50


def test_the_tolerance_is_capped_at_half_the_interval() -> None:
    assert window_ms(2000) == 1900
    assert window_ms(100) == 50
    assert window_ms(100, tolerance_ms=30) == 70


def test_nothing_throttled_gives_no_fraction_and_an_empty_stream_passes() -> None:
    assert check_pace([0.1, 0.2], pack_size=50, interval_ms=2000)["allowed_rate_fraction"] is None
    assert check_pace([], pack_size=50, interval_ms=2000) == {
        "window_ms": 1900,
        "max_in_window": 0,
        "violations": 0,
        "allowed_rate_fraction": None,
        "notifications": 0,
    }


def test_an_unthrottled_burst_is_one_violation_with_a_large_finite_fraction() -> None:
    pace = check_pace([5.0] * 1000, pack_size=50, interval_ms=2000)
    assert pace["violations"] == 1
    assert pace["max_in_window"] == 1000
    assert pace["allowed_rate_fraction"] == pytest.approx(19 * 2.0 / 0.001)


def test_windows_are_half_open_and_violations_disjoint() -> None:
    assert max_in_window([0.0, 1.0, 2.0], 1.0) == 1
    assert max_in_window([0.0, 0.5, 1.0, 1.4], 1.0) == 3
    # Five pushes over the limit in one window, then a second burst after it ends.
    times = [0.0, 0.1, 0.2, 0.3, 0.4, 5.0, 5.1, 5.2]
    assert count_violations(times, 1.0, pack_size=2) == 2
    assert count_violations(times, 1.0, pack_size=5) == 0


def test_pushes_per_interval_counts_non_empty_buckets_from_zero() -> None:
    assert per_interval([0.1, 0.2, 2.5, 7.9], 2000) == [[0.0, 2], [2.0, 1], [6.0, 1]]
    assert per_interval([], 2000) == []


def test_it_is_fast_for_large_fleets() -> None:
    times = paced(50, 2000, seed=5)  # 100 000 pushes, shuffled
    random.Random(2).shuffle(times)
    started = time.perf_counter()
    pace = check_pace(times, pack_size=50, interval_ms=2000)
    assert time.perf_counter() - started < 2.0
    assert pace["violations"] == 0
