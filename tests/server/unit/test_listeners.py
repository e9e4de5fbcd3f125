"""The sockets `otakit serve` binds before it starts: served the way uvicorn and MQTT serve them."""

from __future__ import annotations

import asyncio
import socket

from otaserver.listeners import bind_listeners, port_of
from otaserver.settings import load_settings
from tests.support.process import free_port


async def _nodelay_of_accepted(listening: socket.socket) -> int:
    """TCP_NODELAY of a connection accepted on `listening` by asyncio, as uvicorn's
    `loop.create_server(sock=...)` and the MQTT listener's `asyncio.start_server` accept."""
    accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def serve(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(serve, sock=listening)
    async with server:
        _, writer = await asyncio.open_connection("127.0.0.1", port_of(listening))
        try:
            return await asyncio.wait_for(accepted, 5)
        finally:
            writer.close()


def test_accepted_connections_send_without_nagles_delay() -> None:
    """With Nagle's algorithm on, a response written in two parts waits for the client's delayed
    ACK: every request after the first on a kept-alive HTTP connection, and MQTT replies, took
    40 ms more. asyncio turns it off only on sockets created as IPPROTO_TCP."""
    ports = {"http_port": free_port(), "mqtt_port": free_port(), "coap_port": 0}
    settings = load_settings({"host": "127.0.0.1", **ports}, {})
    listeners = bind_listeners(settings)
    try:
        assert listeners.mqtt is not None
        for listening in (listeners.http, listeners.mqtt):
            assert asyncio.run(_nodelay_of_accepted(listening)) != 0
    finally:
        listeners.close()
