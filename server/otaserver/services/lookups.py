"""A short-lived cache of what a device token resolves to, for the download hot path.

A CoAP download asks once per 1 KiB block and a chunked HTTP download once per chunk; resolving
the token and the effective package each time costs two database round trips. Entries live one
second; any change to devices, profiles, packages or credentials in this process clears them at
once, so only another server process's change can be seen up to a second late.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

V = TypeVar("V")
TTL_SECONDS = 1.0
MAX_ENTRIES = 50_000


class LookupCache(Generic[V]):
    def __init__(self, ttl: float = TTL_SECONDS, clock: Callable[[], float] = time.monotonic):
        self._ttl, self._clock = ttl, clock
        self._entries: dict[object, tuple[float, V]] = {}

    def invalidate(self) -> None:
        self._entries.clear()

    async def get(self, key: object, load: Callable[[], Awaitable[V]]) -> V:
        now = self._clock()
        found = self._entries.get(key)
        if found is not None and found[0] > now:
            return found[1]
        value = await load()
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[key] = (now + self._ttl, value)
        return value
