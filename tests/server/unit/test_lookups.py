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


def test_concurrent_misses_of_one_key_make_one_lookup() -> None:
    cache: LookupCache[int] = LookupCache(ttl=1.0)
    loads: list[int] = []
    release = asyncio.Event()

    async def load() -> int:
        loads.append(1)
        await release.wait()
        return 7

    async def scenario() -> list[int]:
        waiting = [asyncio.ensure_future(cache.get("token", load)) for _ in range(50)]
        await asyncio.sleep(0)
        waiting[0].cancel()  # one that goes away does not cancel the others' lookup
        release.set()
        done = await asyncio.gather(*waiting[1:])
        return [*done, await cache.get("token", load)]

    assert asyncio.run(scenario()) == [7] * 50
    assert len(loads) == 1


def test_a_failed_lookup_reaches_every_waiter_and_is_not_kept() -> None:
    cache: LookupCache[int] = LookupCache(ttl=1.0)
    calls: list[int] = []

    async def load() -> int:
        calls.append(1)
        await asyncio.sleep(0)
        raise LookupError("unknown token")

    async def scenario() -> list[object]:
        first = await asyncio.gather(
            *(cache.get("bad", load) for _ in range(5)), return_exceptions=True
        )
        again = await asyncio.gather(cache.get("bad", load), return_exceptions=True)
        return [*first, *again]

    outcomes = asyncio.run(scenario())
    assert all(isinstance(outcome, LookupError) for outcome in outcomes)
    assert len(calls) == 2


def test_a_lookup_begun_before_a_change_is_not_kept() -> None:
    cache: LookupCache[str] = LookupCache(ttl=60.0)
    release = asyncio.Event()

    async def stale() -> str:
        await release.wait()
        return "before"

    async def fresh() -> str:
        return "after"

    async def scenario() -> list[str]:
        begun = asyncio.ensure_future(cache.get("token", stale))
        await asyncio.sleep(0)
        cache.invalidate()  # an assignment changed while the lookup was under way
        release.set()
        return [await begun, await cache.get("token", fresh)]

    assert asyncio.run(scenario()) == ["before", "after"]
