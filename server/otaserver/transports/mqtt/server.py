"""The asyncio MQTT server: accepts connections, at most `max_connections`, one per client id."""

from __future__ import annotations

import asyncio
import contextlib
import socket

from ...metrics import Metrics
from ...services.device_api import DeviceApi
from ...sessions import SessionRegistry
from ...throttled_log import ThrottledLog
from .connection import Connection, Limits


class MqttServer:
    def __init__(
        self,
        device_api: DeviceApi,
        sessions: SessionRegistry,
        limits: Limits,
        max_connections: int,
        warnings: ThrottledLog,
        metrics: Metrics | None = None,
    ) -> None:
        self._device_api, self._sessions, self._limits = device_api, sessions, limits
        self._max_connections = max_connections
        self._warnings = warnings
        self._metrics = metrics
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._connections: set[Connection] = set()
        self._by_client_id: dict[str, Connection] = {}

    async def start(self, sock: socket.socket) -> None:
        """Serves on `sock`, bound and listening already (otaserver.listeners)."""
        self._server = await asyncio.start_server(self._serve, sock=sock, limit=1 << 20)

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._tasks) >= self._max_connections:
            # Closed before reading a byte: a flood costs an accept and a close, not a CONNACK.
            self._warnings.warning(
                "mqtt-max-connections",
                f"MQTT connection refused: {self._max_connections} connections are open "
                "(OTAKIT_MQTT_MAX_CONNECTIONS)",
            )
            writer.close()
            return
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        connection = Connection(
            reader,
            writer,
            self._device_api,
            self._sessions,
            self._limits,
            self._metrics,
        )
        self._connections.add(connection)
        try:
            await connection.run(self._take_over)
        except asyncio.CancelledError:
            # The server is closing. Ending normally matters: asyncio's start_server (3.11)
            # calls exception() on the finished task, which a cancelled task raises, logged
            # as an error with a traceback at every shutdown with connections open.
            pass
        finally:
            self._tasks.discard(task)
            self._connections.discard(connection)
            if self._by_client_id.get(connection.client_id) is connection:
                del self._by_client_id[connection.client_id]

    def _take_over(self, connection: Connection) -> None:
        """A second connection with a client id ends the first (MQTT's session take-over)."""
        previous = self._by_client_id.get(connection.client_id)
        if previous is not None and previous is not connection:
            previous.close()
        self._by_client_id[connection.client_id] = connection

    async def shut_down(self, timeout: float) -> None:
        """Stops accepting, tells every device the server is going (MQTT 5) and closes its
        connection; within `timeout` seconds, after which `close` cancels what is left."""
        if self._server is not None:
            self._server.close()
        connections = list(self._connections)
        if connections:
            await asyncio.gather(*(c.shut_down(timeout) for c in connections))
        tasks = list(self._tasks)
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
