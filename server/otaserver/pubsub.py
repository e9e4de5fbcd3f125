"""Attribute pushes across the server processes that share one PostgreSQL.

A device may be connected to one process while another's queue worker notifies it: every
process NOTIFYs a channel and LISTENs on it, and hands what it hears to its own sessions.
On SQLite there is one process, and pushes go straight to the session registry.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import asyncpg

from .sessions import SessionRegistry

log = logging.getLogger(__name__)
CHANNEL = "otakit_attributes"
MAX_PAYLOAD = 7900  # PostgreSQL's NOTIFY payload limit is 8000 bytes


class PostgresPubSub:
    def __init__(self, dsn: str, sessions: SessionRegistry) -> None:
        self._dsn = dsn
        self._sessions = sessions
        self._listener: asyncpg.Connection | None = None
        self._sender: asyncpg.Connection | None = None
        self._send_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._listener = await asyncpg.connect(self._dsn)
        await self._listener.add_listener(CHANNEL, self._heard)
        self._sender = await asyncpg.connect(self._dsn)

    async def close(self) -> None:
        for connection in (self._listener, self._sender):
            if connection is not None:
                await connection.close()

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


def asyncpg_dsn(sqlalchemy_url: str) -> str:
    return sqlalchemy_url.replace("postgresql+asyncpg://", "postgresql://", 1)
