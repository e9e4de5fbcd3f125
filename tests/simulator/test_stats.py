"""Nearest-rank percentiles, bounded samples, and their weighted merge."""

from __future__ import annotations

import random

import pytest
from otasim.stats import downsample, merge_samples, percentile, percentiles


def test_nearest_rank_percentiles_are_measured_values() -> None:
    assert percentiles(range(1, 101)) == {"count": 100, "p50": 50, "p90": 90, "p99": 99, "max": 100}
    assert percentiles([4.0, 1.0, 3.0, 2.0]) == {
        "count": 4,
        "p50": 2.0,
        "p90": 4.0,
        "p99": 4.0,
        "max": 4.0,
    }
    assert percentiles([7.5]) == {"count": 1, "p50": 7.5, "p90": 7.5, "p99": 7.5, "max": 7.5}
    assert percentile([10.0, 20.0, 30.0], 34) == 20.0
    assert percentile([10.0, 20.0, 30.0], 33) == 10.0


def test_no_values_give_a_count_of_zero_and_no_figures() -> None:
    assert percentiles([]) == {"count": 0, "p50": None, "p90": None, "p99": None, "max": None}


def test_downsample_keeps_sorted_evenly_spaced_values_with_both_ends() -> None:
    values = [float(v) for v in range(10_000)]
    random.Random(1).shuffle(values)
    kept = downsample(values, 101)
    assert len(kept) == 101
    assert kept == sorted(kept)
    assert kept[0] == 0.0 and kept[-1] == 9999.0
    assert kept[50] == pytest.approx(5000, abs=1)
    assert downsample([3.0, 1.0, 2.0], 10) == [1.0, 2.0, 3.0]
    assert downsample(values, 101) == kept  # deterministic


def test_merging_whole_samples_is_exact() -> None:
    rng = random.Random(2)
    a = [rng.expovariate(1.0) for _ in range(300)]
    b = [rng.expovariate(0.2) for _ in range(500)]
    merged, kept = merge_samples([(downsample(a), len(a)), (downsample(b), len(b))])
    assert merged == percentiles(a + b)
    assert kept == sorted(a + b)


def test_merging_downsampled_samples_weighs_each_part_by_its_count() -> None:
    rng = random.Random(3)
    many = [rng.uniform(0, 100) for _ in range(50_000)]  # kept as 200 values
    few = [rng.uniform(1000, 1100) for _ in range(200)]  # kept whole
    merged, kept = merge_samples([(downsample(many, 200), 50_000), (few, 200)], limit=300)
    truth = percentiles(many + few)
    assert merged["count"] == 50_200
    assert merged["max"] == truth["max"]
    # Unweighted, half the kept values would be above 1000 and p50 would be about 1000.
    assert merged["p50"] == pytest.approx(truth["p50"], abs=1.0)
    assert merged["p90"] == pytest.approx(truth["p90"], abs=1.0)
    assert merged["p99"] == pytest.approx(truth["p99"], abs=2.0)
    assert len(kept) == 300 and kept == sorted(kept)
    assert kept[0] == min(many)
    assert kept[-1] == truth["max"]


def test_merging_nothing_gives_empty_figures() -> None:
    assert merge_samples([([], 0), ([], 0)]) == (
        {"count": 0, "p50": None, "p90": None, "p99": None, "max": None},
        [],
    )
