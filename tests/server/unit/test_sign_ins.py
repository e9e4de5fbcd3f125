"""Tokens looked up in batches: one query at a time, the tokens that wait meanwhile together."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from otaserver.services.sign_ins import BatchedLookups


def test_tokens_asked_for_during_a_query_go_together_in_the_next() -> None:
    queries: list[list[str]] = []

    async def load(keys: Sequence[str]) -> dict[str, int]:
        queries.append(list(keys))
        await asyncio.sleep(0.01)
        return {key: int(key) for key in keys if key != "404"}

    async def scenario() -> list[int | None]:
        lookups: BatchedLookups[int] = BatchedLookups(load, batch=50)
        first = asyncio.ensure_future(lookups.get("0"))
        await asyncio.sleep(0)  # its query is under way
        rest = [lookups.get(str(n)) for n in range(1, 120)] + [lookups.get("404")]
        return [await first, *await asyncio.gather(*rest)]

    answers = asyncio.run(scenario())
    assert answers == [*range(120), None]
    assert [len(q) for q in queries] == [1, 50, 50, 20]


def test_a_failed_query_fails_its_waiters_only() -> None:
    calls: list[int] = []

    async def load(keys: Sequence[str]) -> dict[str, str]:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("database gone")
        return {key: key.upper() for key in keys}

    async def scenario() -> tuple[object, str | None]:
        lookups: BatchedLookups[str] = BatchedLookups(load)
        failed = await asyncio.gather(lookups.get("a"), return_exceptions=True)
        return failed[0], await lookups.get("b")

    failed, later = asyncio.run(scenario())
    assert isinstance(failed, ConnectionError) and later == "B"


def test_a_waiter_that_goes_away_does_not_stop_the_others() -> None:
    async def load(keys: Sequence[str]) -> dict[str, str]:
        await asyncio.sleep(0.01)
        return {key: key for key in keys}

    async def scenario() -> str | None:
        lookups: BatchedLookups[str] = BatchedLookups(load)
        gone = asyncio.ensure_future(lookups.get("x"))
        stays = asyncio.ensure_future(lookups.get("x"))
        await asyncio.sleep(0)
        gone.cancel()
        with pytest.raises(asyncio.CancelledError):
            await gone
        return await stays

    assert asyncio.run(scenario()) == "x"
