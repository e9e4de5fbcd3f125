"""A short-lived cache of what a device token resolves to, for the download hot path.

A CoAP download asks once per 1 KiB block and a chunked HTTP download once per chunk; resolving
the token and the effective package each time costs two database round trips. Entries live one
second; any change to devices, profiles, packages or credentials in this process clears them at
once, so only another server process's change can be seen up to a second late.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

V = TypeVar("V")
TTL_SECONDS = 1.0
MAX_ENTRIES = 50_000


class LookupCache(Generic[V]):
    def __init__(self, ttl: float = TTL_SECONDS, clock: Callable[[], float] = time.monotonic):
        self._ttl, self._clock = ttl, clock
        self._entries: dict[object, tuple[float, V]] = {}
        # Lookups under way: the requests that want the same key meanwhile wait for that one
        # (a device's 16 connections, or a storm of reconnecting devices, make one query).
        self._loading: dict[object, asyncio.Future[V]] = {}
        self._generation = 0  # bumped by invalidate: a lookup begun before must not be kept

    def invalidate(self) -> None:
        self._entries.clear()
        self._loading.clear()
        self._generation += 1

    async def get(self, key: object, load: Callable[[], Awaitable[V]]) -> V:
        now = self._clock()
        found = self._entries.get(key)
        if found is not None and found[0] > now:
            return found[1]
        loading = self._loading.get(key)
        if loading is None:
            loading = asyncio.ensure_future(self._load(key, load, now, self._generation))
            self._loading[key] = loading
            # Its failure is every waiter's; when all went away, it is still retrieved here.
            loading.add_done_callback(_retrieve)
        # Shielded: one waiter that goes away does not cancel the others' lookup.
        return await asyncio.shield(loading)

    async def _load(
        self, key: object, load: Callable[[], Awaitable[V]], now: float, generation: int
    ) -> V:
        try:
            value = await load()
        finally:
            if self._generation == generation:
                self._loading.pop(key, None)
        if self._generation == generation:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = (now + self._ttl, value)
        return value


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
