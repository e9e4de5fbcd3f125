"""Failed logins: counted in a window, locked at the limit, unlocked by time alone."""

from __future__ import annotations

from otaserver.domain.logins import FailureCount, after_failure

WINDOW = 300_000


def fail(times: int, start: int = 1_000, step: int = 1_000, limit: int = 5) -> FailureCount:
    count: FailureCount | None = None
    for n in range(times):
        count = after_failure(count, start + n * step, limit, WINDOW)
    assert count is not None
    return count


def test_failures_below_the_limit_lock_nothing() -> None:
    count = fail(4)
    assert count.failures == 4
    assert count.locked_for(5_000) == 0


def test_the_limit_locks_for_the_window_and_starts_afresh() -> None:
    count = fail(5)
    assert count.locked_for(5_000) == WINDOW
    assert count.failures == 0
    assert count.locked_for(5_000 + WINDOW) == 0


def test_failures_older_than_the_window_are_forgotten() -> None:
    count = fail(4, step=WINDOW // 2)
    assert count.locked_for(count.first_ts) == 0
    assert count.failures < 4
