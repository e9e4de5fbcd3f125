"""The one wait loop of the suite and the project's tests: poll a condition until it holds."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(
    condition: Callable[[], object], what: str, timeout: float = 30, interval: float = 0.05
) -> None:
    """Returns once `condition()` is true; fails the caller's check after `timeout` seconds,
    saying what it waited for."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout:g} s waiting for {what}"
        time.sleep(interval)
