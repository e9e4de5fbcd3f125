"""Warnings about strangers' input: one line per kind per interval, with a count of the rest."""

from __future__ import annotations

import logging

import pytest

from otaserver.throttled_log import ThrottledLog


def test_repeats_within_the_interval_are_counted_not_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    log = ThrottledLog(logging.getLogger("test.throttled"), 10, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, "test.throttled"):
        for _ in range(1000):
            log.warning("flood", "bad datagram")
        log.warning("other", "slow client")
        now[0] = 10.0
        log.warning("flood", "bad datagram")
    assert [r.getMessage() for r in caplog.records] == [
        "bad datagram",
        "slow client",
        "bad datagram (999 more like it since the last report)",
    ]
