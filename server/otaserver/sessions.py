"""The live device sessions of this process, so an attribute push reaches every transport alike.

MQTT connections, CoAP observations and HTTP long polls each register a listener for their device;
`publish` hands an update (the flat JSON of spec §6.2, `{"deleted": [...]}` included) to each.
A listener must not block: transports queue the update and send it from their own task.
When the server stops, `closing` is set: whoever waits for an update stops waiting.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from uuid import UUID

Update = dict[str, Any]
Listener = Callable[[Update], None]


class Transport(StrEnum):
    """Whose session it is: an MQTT connection, a CoAP observation, an HTTP long poll."""

    MQTT = "mqtt"
    COAP = "coap"
    HTTP = "http"


@dataclass(eq=False, slots=True)
class Subscription:
    device_id: UUID
    listener: Listener
    transport: Transport
    registry: SessionRegistry = field(repr=False)

    def close(self) -> None:
        self.registry.unsubscribe(self)


class SessionRegistry:
    def __init__(self) -> None:
        self._listeners: dict[UUID, set[Subscription]] = defaultdict(set)
        self._open: Counter[Transport] = Counter()
        self.closing = asyncio.Event()

    def close(self) -> None:
        """The server is stopping: waits for updates end now, answered as timed out."""
        self.closing.set()

    async def next_update(self, updates: asyncio.Queue[Update], timeout: float) -> Update | None:
        """The next update from `updates`; None when `timeout` seconds pass or the server stops
        first."""
        getter = asyncio.ensure_future(updates.get())
        stopping = asyncio.ensure_future(self.closing.wait())
        try:
            await asyncio.wait(
                (getter, stopping), timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            getter.cancel()
            stopping.cancel()
        return getter.result() if getter.done() and not getter.cancelled() else None

    def subscribe(self, device_id: UUID, listener: Listener, transport: Transport) -> Subscription:
        subscription = Subscription(device_id, listener, transport, self)
        self._listeners[device_id].add(subscription)
        self._open[transport] += 1
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        listeners = self._listeners.get(subscription.device_id)
        if listeners is not None and subscription in listeners:
            listeners.discard(subscription)
            self._open[subscription.transport] -= 1
            if not listeners:
                del self._listeners[subscription.device_id]

    def count(self, device_id: UUID) -> int:
        return len(self._listeners.get(device_id, ()))

    def open_sessions(self, transport: Transport) -> int:
        """How many sessions of this transport are open: the devices connected through it."""
        return self._open[transport]

    async def publish(self, device_id: UUID, update: Update) -> None:
        for subscription in list(self._listeners.get(device_id, ())):
            subscription.listener(update)

    async def publish_many(self, updates: Sequence[tuple[UUID, Update]]) -> None:
        for device_id, update in updates:
            await self.publish(device_id, update)
