"""Warnings about what strangers send, logged so that a flood of them cannot flood the log.

Malformed datagrams, refused connections and slow clients are the sender's problem, not the
server's: each kind is worth one line now and then, never a traceback and never one line per event.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


class ThrottledLog:
    """Logs each kind of warning at most once per `interval` seconds, with a count of the rest."""

    def __init__(
        self,
        logger: logging.Logger,
        interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._interval = interval
        self._clock = clock
        # kind -> (when it was last logged, how often it happened since)
        self._seen: dict[str, tuple[float, int]] = {}

    def warning(self, kind: str, message: str) -> None:
        """`kind` groups the repeats (say "coap-malformed"); `message` is this occurrence's text."""
        now = self._clock()
        last, repeats = self._seen.get(kind, (float("-inf"), 0))
        if now - last < self._interval:
            self._seen[kind] = (last, repeats + 1)
            return
        self._seen[kind] = (now, 0)
        suffix = f" ({repeats} more like it since the last report)" if repeats else ""
        self._logger.warning("%s%s", message, suffix)
