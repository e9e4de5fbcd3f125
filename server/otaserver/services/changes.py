"""Which devices' update states changed, told to whoever watches a tenant (the live dashboard).

Storage publishes here after a transaction that saved update states commits (never after a
rollback): a mapping of (tenant, package type) to the devices whose state of that type changed.
A subscription gathers the ids it has not yet taken; its reader takes them all at once, at its
own pace, so any number of changes between two reads costs one read. Publishing never blocks
and never fails the write that caused it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from uuid import UUID

from ..domain.enums import OtaPackageType

log = logging.getLogger(__name__)

# (tenant, package type) -> the devices whose update state of that type changed.
Changes = Mapping[tuple[UUID, OtaPackageType], Iterable[UUID]]
# A subscription holds at most this many ids; past it, it only knows that many changed.
MAX_PENDING = 10_000


@dataclass(eq=False)
class ChangeSubscription:
    tenant_id: UUID
    package_type: OtaPackageType
    feed: ChangeFeed = field(repr=False)
    pending: set[UUID] = field(default_factory=set)
    # More changed than MAX_PENDING since the last take: the ids kept are only some of them.
    overflow: bool = False
    # When the latest pending change arrived (time.monotonic()): it was committed before then.
    changed_at: float = 0.0
    _wake: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    def add(self, device_ids: Iterable[UUID]) -> None:
        for device_id in device_ids:
            if len(self.pending) >= MAX_PENDING:
                self.overflow = True
                break
            self.pending.add(device_id)
        self.changed_at = time.monotonic()
        self._wake.set()

    async def wait(self) -> None:
        """Returns once something is pending (at once if something already is)."""
        await self._wake.wait()

    def take(self) -> tuple[set[UUID], bool]:
        """The ids pending and whether some were dropped; none pending afterwards."""
        taken, overflow = self.pending, self.overflow
        self.pending, self.overflow = set(), False
        self._wake.clear()
        return taken, overflow

    def close(self) -> None:
        self.feed.unsubscribe(self)

    def __enter__(self) -> ChangeSubscription:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class ChangeFeed:
    """In-process fan-out of committed update-state changes, by tenant and package type."""

    def __init__(self) -> None:
        self._subscribers: dict[tuple[UUID, OtaPackageType], set[ChangeSubscription]] = {}
        self._forwarders: list[Callable[[Changes], None]] = []

    def subscribe(self, tenant_id: UUID, package_type: OtaPackageType) -> ChangeSubscription:
        subscription = ChangeSubscription(tenant_id, package_type, self)
        self._subscribers.setdefault((tenant_id, package_type), set()).add(subscription)
        return subscription

    def unsubscribe(self, subscription: ChangeSubscription) -> None:
        key = (subscription.tenant_id, subscription.package_type)
        subscribers = self._subscribers.get(key)
        if subscribers is not None:
            subscribers.discard(subscription)
            if not subscribers:
                del self._subscribers[key]

    def subscribers(self) -> int:
        return sum(len(s) for s in self._subscribers.values())

    def forward_to(self, forwarder: Callable[[Changes], None]) -> None:
        """Also hands what this process commits to `forwarder` (other processes' feeds)."""
        self._forwarders.append(forwarder)

    def committed(self, changes: Changes) -> None:
        """This process committed these changes: its subscribers and the forwarders hear them."""
        self.deliver(changes)
        for forward in self._forwarders:
            try:
                forward(changes)
            except Exception:  # the write is committed; telling others is best effort
                log.exception("could not forward update-state changes")

    def deliver(self, changes: Changes) -> None:
        """Hands the changes to this process's subscribers only."""
        for key, device_ids in changes.items():
            subscribers = self._subscribers.get(key)
            if not subscribers:
                continue
            ids = list(device_ids)
            for subscription in subscribers:
                subscription.add(ids)
