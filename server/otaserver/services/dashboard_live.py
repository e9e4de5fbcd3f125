"""The live dashboard: counts at once, then the changed devices' rows, coalesced in time.

A stream subscribes to its tenant's changes of one package type. Changes that arrive within
one push interval go out as one event; reading them costs one query of the changed devices' rows
(by id, at most `max_rows` + 1 of them), whatever their number, and a counts query that the
streams of one filter and scope share: one started after a stream's latest change was committed
serves it (whenever that stream gets to read, which on a loaded machine can be much later).
An event is sent only when something the viewer sees changed: a row they may see, or a count.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .access import Principal
from .changes import ChangeFeed, ChangeSubscription
from .dashboard import Dashboard, DeviceRow, Filters, customer_of
from .ports import Clock

MAX_ROWS = 500
# A finished counts query older than this is forgotten (when another is started).
STALE_COUNTS_SECONDS = 10.0


@dataclass(frozen=True)
class LiveEvent:
    name: str  # "counts" (the first) or "change"
    data: dict[str, Any]


class LiveDashboard:
    def __init__(
        self,
        dashboard: Dashboard,
        feed: ChangeFeed,
        clock: Clock,
        push_interval_ms: int,
        max_rows: int = MAX_ROWS,
    ) -> None:
        self._dashboard, self._feed, self._clock = dashboard, feed, clock
        self._interval = push_interval_ms / 1000
        self._max_rows = max_rows
        # (tenant, customer scope, filters) -> the latest counts query: when it started, its task.
        self._counts: dict[tuple[Any, ...], tuple[float, asyncio.Task[dict[str, int]]]] = {}

    async def counts(self, principal: Principal, filters: Filters, since: float) -> dict[str, int]:
        """The counts, from a query started at `since` (time.monotonic()) or later: one already
        on its way or done for the same tenant, scope and filters, else a new one."""
        key = (principal.require_tenant(), customer_of(principal), filters)
        loop = asyncio.get_running_loop()
        found = self._counts.get(key)
        if found is None or found[0] <= since:  # a tie cannot tell which came first
            now = time.monotonic()
            for old, (started, task) in list(self._counts.items()):
                if task.done() and started < now - STALE_COUNTS_SECONDS:
                    del self._counts[old]
            found = (now, loop.create_task(self._dashboard.counts(principal, filters)))
            self._counts[key] = found
        # Shielded: a stream that stops waiting does not cancel the others' query.
        return await asyncio.shield(found[1])

    async def open(self, principal: Principal, filters: Filters) -> LiveStream:
        """A stream for this viewer; its first event is ready (the filters are checked, so a
        filter they may not see fails here, before any byte is sent)."""
        tenant_id = principal.require_tenant()
        subscription = self._feed.subscribe(tenant_id, filters.package_type)
        try:
            counts = await self._dashboard.counts(principal, filters)
        except BaseException:
            subscription.close()
            raise
        first = LiveEvent("counts", {"counts": counts, "at": self._clock.now_ms()})
        return LiveStream(self, principal, filters, subscription, first)


class LiveStream:
    def __init__(
        self,
        live: LiveDashboard,
        principal: Principal,
        filters: Filters,
        subscription: ChangeSubscription,
        first: LiveEvent,
    ) -> None:
        self._live, self._principal, self._filters = live, principal, filters
        self._subscription = subscription
        self.first = first
        self._counts = first.data["counts"]
        self._last_push = asyncio.get_running_loop().time()

    def close(self) -> None:
        self._subscription.close()

    async def next(self, timeout: float, stops: Sequence[asyncio.Event]) -> LiveEvent | None:
        """The next change event; None when `timeout` seconds pass without one, or once one
        of `stops` is set (then at once, without reading anything)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if not await _first_of(self._subscription.wait(), stops, deadline - loop.time()):
                return None
            # Coalescing: at most one event per interval; what arrives meanwhile joins it.
            wait = self._last_push + self._live._interval - loop.time()
            if wait > 0 and not await _first_of(None, stops, wait):
                return None  # stopped meanwhile
            event = await self._change()
            if event is not None:
                return event
            if loop.time() >= deadline:
                return None

    async def _change(self) -> LiveEvent | None:
        changed_at = self._subscription.changed_at  # all taken now was committed by then
        ids, overflow = self._subscription.take()
        live = self._live
        self._last_push = asyncio.get_running_loop().time()
        at = live._clock.now_ms()  # what changed until now is in this event
        rows, more = await live._dashboard.changed_rows(
            self._principal, self._filters, ids, live._max_rows
        )
        counts = await live.counts(self._principal, self._filters, changed_at)
        if not rows and not more and not overflow and counts == self._counts:
            return None  # nothing this viewer sees changed
        self._counts = counts
        data: dict[str, Any] = {
            "counts": counts,
            "devices": [row_json(row) for row in rows],
            "at": at,
        }
        if more or overflow:
            data["truncated"] = True
        return LiveEvent("change", data)


def row_json(row: DeviceRow) -> dict[str, Any]:
    """A row as `GET /api/ota/dashboard/devices` gives it (camelCase, deviceId an entity id)."""
    item = {_camel(k): v for k, v in dataclasses.asdict(row).items()}
    item["deviceId"] = {"entityType": "DEVICE", "id": str(row.device_id)}
    return item


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


async def _first_of(awaitable: Any, stops: Sequence[asyncio.Event], timeout: float) -> bool:
    """Waits for `awaitable` (None: for nothing) until a stop is set or `timeout` passes;
    True only if `awaitable` finished first (or, without one, the time passed unstopped)."""
    if any(stop.is_set() for stop in stops):
        if awaitable is not None:
            awaitable.close()
        return False
    if not stops and awaitable is None:
        await asyncio.sleep(max(0.0, timeout))
        return True
    waiting = [asyncio.ensure_future(stop.wait()) for stop in stops]
    main = None if awaitable is None else asyncio.ensure_future(awaitable)
    try:
        await asyncio.wait(
            [*waiting, *([main] if main else [])],
            timeout=max(0.0, timeout),
            return_when=asyncio.FIRST_COMPLETED,
        )
    finally:
        for task in (*waiting, *([main] if main else [])):
            task.cancel()
    if any(stop.is_set() for stop in stops):
        return False
    return main.done() and not main.cancelled() if main is not None else True
