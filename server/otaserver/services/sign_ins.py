"""Device tokens looked up in batches: a storm of connects makes a few queries, not one each.

A server that restarts with ten thousand MQTT devices sees them all reconnect at once. One
query per CONNECT would each hold a database connection (the pool runs out, and the rest fail
after the pool's timeout) and cost a round trip each. Here one query runs at a time: the tokens
asked for while it runs wait, and go together in the next one, at most BATCH to a query.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
BATCH = 500


class BatchedLookups(Generic[T]):
    def __init__(
        self, load: Callable[[Sequence[str]], Awaitable[dict[str, T]]], batch: int = BATCH
    ) -> None:
        self._load, self._batch = load, batch
        self._waiting: dict[str, list[asyncio.Future[T | None]]] = {}
        self._worker: asyncio.Task[None] | None = None

    async def get(self, key: str) -> T | None:
        """The value of `key`, or None when there is none."""
        future: asyncio.Future[T | None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append(future)
        if self._worker is None:
            self._worker = asyncio.ensure_future(self._work())
        return await future

    async def _work(self) -> None:
        try:
            while self._waiting:
                keys = list(self._waiting)[: self._batch]
                waiters = {key: self._waiting.pop(key) for key in keys}
                try:
                    found = await self._load(keys)
                except BaseException as error:
                    for futures in waiters.values():
                        for future in futures:
                            if not future.done():
                                future.set_exception(error)
                    if isinstance(error, asyncio.CancelledError):
                        raise
                    continue
                for key, futures in waiters.items():
                    for future in futures:
                        if not future.done():
                            future.set_result(found.get(key))
        finally:
            self._worker = None
            for futures in self._waiting.values():  # cancelled with some still waiting
                for future in futures:
                    future.cancel()
            self._waiting.clear()
