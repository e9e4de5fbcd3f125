"""The run's verdict: Locust's quitting hook sets exit code 1 when a threshold of the command
line is passed, and says which, so a CI job fails for a reason it can read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from otasim.pace import check_pace

from otaload.run import Tally


@dataclass(frozen=True)
class PercentileLimit:
    """A percentile of one metric (Locust's row: request type and name) at most `ms`."""

    request_type: str
    name: str
    percent: float
    ms: float

    @classmethod
    def parse(cls, text: str) -> PercentileLimit:
        """TYPE:NAME:PERCENT:MS, e.g. MQTT:chunk:99:500."""
        parts = text.split(":")
        if len(parts) != 4:
            raise ValueError(f"--max-percentile {text!r}: expected TYPE:NAME:PERCENT:MS")
        request_type, name, percent, ms = parts
        try:
            limit = cls(request_type, name, float(percent), float(ms))
        except ValueError:
            raise ValueError(f"--max-percentile {text!r}: PERCENT and MS are numbers") from None
        if not 0 < limit.percent <= 100:
            raise ValueError(f"--max-percentile {text!r}: PERCENT is above 0, at most 100")
        return limit


def verdict(stats: Any, options: Any, tally: Tally) -> list[str]:
    """Every threshold the run passed, in words; empty when it kept them all."""
    broken: list[str] = []
    total = stats.total
    if total.num_requests and total.fail_ratio > options.max_fail_ratio:
        broken.append(
            f"failure ratio {total.fail_ratio:.4f} ({total.num_failures} of "
            f"{total.num_requests}) is above --max-fail-ratio {options.max_fail_ratio}"
        )
    for text in options.max_percentile:
        limit = PercentileLimit.parse(text)
        entry = stats.entries.get((limit.name, limit.request_type))
        if entry is None or not entry.num_requests:
            broken.append(f"{limit.request_type} {limit.name}: no request, so no percentile")
            continue
        got = entry.get_response_time_percentile(limit.percent / 100)
        if got > limit.ms:
            broken.append(
                f"{limit.request_type} {limit.name} p{limit.percent:g} is {got:.0f} ms, above "
                f"{limit.ms:g} ms"
            )
    if options.check_pace:
        pace = check_pace(
            [t / 1000 for t in tally.pushes],
            options.pack_size,
            options.pack_interval_ms,
            options.pace_tolerance_ms,
        )
        if pace["violations"]:
            broken.append(
                f"pace: {pace['max_in_window']} notifications within {pace['window_ms']:.0f} ms "
                f"({pace['violations']} windows), above the pack size {options.pack_size}"
            )
    if options.expect_updated and (tally.updated < tally.told or not tally.told):
        broken.append(
            f"{tally.told} devices were told of the package, {tally.updated} reported UPDATED "
            f"and {tally.failed} FAILED"
        )
    return broken
