"""The rules of failed logins: how many make a lockout, and for how long. Pure: time is passed in.

Failures are counted per key (an account, a client address) within a window; reaching the limit
locks the key for the lockout time and starts the count afresh.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LoginPolicy:
    max_failures_per_account: int
    max_failures_per_address: int
    lockout_ms: int


@dataclass(frozen=True)
class FailureCount:
    failures: int
    first_ts: int
    locked_until: int

    def locked_for(self, now_ms: int) -> int:
        """Milliseconds the key stays locked; 0 when it is not locked."""
        return max(0, self.locked_until - now_ms)


def after_failure(
    count: FailureCount | None, now_ms: int, max_failures: int, window_ms: int
) -> FailureCount:
    """The count once one more failure happened at `now_ms`."""
    if count is None or now_ms - count.first_ts > window_ms:
        count = FailureCount(0, now_ms, count.locked_until if count else 0)
    failures = count.failures + 1
    if failures >= max_failures:
        return FailureCount(0, now_ms, now_ms + window_ms)
    return FailureCount(failures, count.first_ts, count.locked_until)


def account_key(email: str) -> str:
    return "account:" + email


def address_key(address: str) -> str:
    return "address:" + address
