"""The device-lookup cache: fresh for its time to live, empty after any change."""

from __future__ import annotations

import asyncio

from otaserver.services.lookups import LookupCache


def test_entries_live_for_their_ttl_and_die_on_invalidate() -> None:
    now = [100.0]
    cache: LookupCache[int] = LookupCache(ttl=1.0, clock=lambda: now[0])
    loads: list[int] = []

    async def load() -> int:
        loads.append(1)
        return len(loads)

    async def scenario() -> list[int]:
        seen = [await cache.get("token", load)]
        now[0] += 0.5
        seen.append(await cache.get("token", load))  # still fresh
        now[0] += 0.6
        seen.append(await cache.get("token", load))  # expired: loaded again
        cache.invalidate()
        seen.append(await cache.get("token", load))  # a change: loaded again
        seen.append(await cache.get("other", load))
        return seen

    assert asyncio.run(scenario()) == [1, 1, 2, 3, 4]
