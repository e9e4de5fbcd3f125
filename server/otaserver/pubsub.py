"""Attribute pushes and update-state changes across the server processes on one PostgreSQL.

A device may be connected to one process while another's queue worker notifies it: every
process NOTIFYs a channel and LISTENs on it, and hands what it hears to its own sessions.
On SQLite there is one process, and pushes go straight to the session registry.

Likewise the live dashboard's change feed: what one process commits, the others' browsers
see. Those changes are coalesced per tenant while a NOTIFY is on its way (so a busy process
sends a few notifications a second, not one per transaction), sent in the background (a
device's report never waits for them), and skipped by the process that sent them (its own
feed heard them already).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import asyncpg

from .domain.enums import OtaPackageType
from .services.changes import ChangeFeed, Changes
from .sessions import SessionRegistry

log = logging.getLogger(__name__)
CHANNEL = "otakit_attributes"
CHANGES_CHANNEL = "otakit_state_changes"
MAX_PAYLOAD = 7900  # PostgreSQL's NOTIFY payload limit is 8000 bytes
# Device ids in one change notification: 39 bytes each as JSON, well under MAX_PAYLOAD.
IDS_PER_PAYLOAD = 180


class PostgresPubSub:
    def __init__(
        self, dsn: str, sessions: SessionRegistry, changes: ChangeFeed | None = None
    ) -> None:
        self._dsn = dsn
        self._sessions = sessions
        self._changes = changes
        self._listener: asyncpg.Connection | None = None
        self._sender: asyncpg.Connection | None = None
        self._sender_pid = 0
        self._send_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._unsent: dict[tuple[UUID, OtaPackageType], set[UUID]] = {}
        self._sharing: asyncio.Task[None] | None = None
        self._closed = False

    async def start(self) -> None:
        self._listener = await asyncpg.connect(self._dsn)
        await self._listener.add_listener(CHANNEL, self._heard)
        self._sender = await asyncpg.connect(self._dsn)
        self._sender_pid = self._sender.get_server_pid()
        if self._changes is not None:
            await self._listener.add_listener(CHANGES_CHANNEL, self._heard_changes)
            self._changes.forward_to(self.share_changes)

    async def close(self) -> None:
        self._closed = True
        if self._sharing is not None:
            self._sharing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sharing
        for connection in (self._listener, self._sender):
            if connection is not None:
                await connection.close()

    def share_changes(self, changes: Changes) -> None:
        """Tells the other processes, soon, of changes this one committed."""
        if self._closed or self._sender is None:
            return
        for key, device_ids in changes.items():
            self._unsent.setdefault(key, set()).update(device_ids)
        if self._sharing is None or self._sharing.done():
            self._sharing = asyncio.get_running_loop().create_task(self._send_changes())

    async def _send_changes(self) -> None:
        while self._unsent and self._sender is not None:
            unsent, self._unsent = self._unsent, {}
            try:
                async with self._send_lock:
                    await self._sender.execute(
                        "SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload",
                        CHANGES_CHANNEL,
                        change_payloads(unsent),
                    )
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                # Other processes' live dashboards miss these; their next change brings counts.
                log.warning("update-state changes not shared with other processes: %s", error)

    def _heard_changes(self, _connection: object, pid: int, _channel: str, payload: str) -> None:
        if pid == self._sender_pid or self._changes is None:
            return  # this process's own: its feed has them already
        message = json.loads(payload)
        key = (UUID(message["t"]), OtaPackageType(message["k"]))
        self._changes.deliver({key: [UUID(d) for d in message["d"]]})

    async def publish(self, device_id: UUID, update: dict[str, Any]) -> None:
        await self.publish_many([(device_id, update)])

    async def publish_many(self, updates: Sequence[tuple[UUID, dict[str, Any]]]) -> None:
        """One round trip for them all: a pack of thousands of devices is notified at once."""
        payloads: list[str] = []
        for device_id, update in updates:
            payload = json.dumps({"device": str(device_id), "update": update})
            if len(payload.encode()) <= MAX_PAYLOAD and self._sender is not None:
                payloads.append(payload)
                continue
            # Too large for NOTIFY: only this process's sessions hear it.
            log.warning("attribute update of %s too large to share between processes", device_id)
            await self._sessions.publish(device_id, update)
        if not payloads or self._sender is None:
            return
        async with self._send_lock:
            await self._sender.execute(
                "SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload",
                CHANNEL,
                payloads,
            )

    def _heard(self, _connection: object, _pid: int, _channel: str, payload: str) -> None:
        message = json.loads(payload)
        task = asyncio.get_running_loop().create_task(
            self._sessions.publish(UUID(message["device"]), message["update"])
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def change_payloads(changes: Changes) -> list[str]:
    """One notification per tenant and package type, or a few when many devices changed."""
    payloads = []
    for (tenant_id, package_type), device_ids in changes.items():
        ids = [str(d) for d in device_ids]
        for start in range(0, len(ids), IDS_PER_PAYLOAD):
            message = {
                "t": str(tenant_id),
                "k": package_type.value,
                "d": ids[start : start + IDS_PER_PAYLOAD],
            }
            payloads.append(json.dumps(message, separators=(",", ":")))
    return payloads


def asyncpg_dsn(sqlalchemy_url: str) -> str:
    return sqlalchemy_url.replace("postgresql+asyncpg://", "postgresql://", 1)
