"""A device's side of the three transports, with real clients: httpx, paho-mqtt, aiocoap."""

from __future__ import annotations

import asyncio
import json
import queue
import socket
import threading
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

import aiocoap
import httpx
import paho.mqtt.client as paho
from otaclient import protocol as wire
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

T = TypeVar("T")


class HttpDevice:
    def __init__(self, url: str, token: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=60)
        self.token = token

    def __enter__(self) -> HttpDevice:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.http.close()

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(wire.http_path(self.token, path), params=params)

    def post(self, path: str, body: Any) -> httpx.Response:
        return self.http.post(wire.http_path(self.token, path), json=body)


class ChunkRefused(Exception):
    """The server answered a chunk request with an error on v2/fw/error."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class MqttDevice:
    """A paho client that queues what it receives; MQTT 5 unless `version=3` (3.1.1)."""

    def __init__(self, host: str, port: int, token: str, version: int = 5) -> None:
        self.messages: queue.Queue[paho.MQTTMessage] = queue.Queue()
        self.connected: queue.Queue[Any] = queue.Queue()
        self.closed = threading.Event()
        protocol = MQTTProtocolVersion.MQTTv5 if version == 5 else MQTTProtocolVersion.MQTTv311
        self.client = paho.Client(CallbackAPIVersion.VERSION2, protocol=protocol)
        self.client.username_pw_set(token)
        self.client.on_message = lambda _c, _u, message: self.messages.put(message)
        self.client.on_connect = lambda _c, _u, _f, code, _p: self.connected.put(code)
        self.client.on_disconnect = lambda *_a: self.closed.set()
        self.client.connect(host, port, 60)
        # Without it each chunk request waits for the server's delayed ACK (Nagle): ~44 ms.
        sock = self.client.socket()
        if isinstance(sock, socket.socket):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.client.loop_start()
        self.code = self.connected.get(timeout=15)

    def __enter__(self) -> MqttDevice:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    @property
    def accepted(self) -> bool:
        return not self.code.is_failure if hasattr(self.code, "is_failure") else self.code == 0

    def subscribe(self, topic: str) -> None:
        done: queue.Queue[Any] = queue.Queue()
        self.client.on_subscribe = lambda *_a: done.put(True)
        self.client.subscribe(topic, 1)
        done.get(timeout=15)

    def publish(self, topic: str, payload: bytes | str) -> None:
        self.client.publish(topic, payload, 1).wait_for_publish(15)

    def expect(self, *topics: str, timeout: float = 10) -> paho.MQTTMessage | None:
        """The next message on one of `topics` (others that come first are dropped), or None."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                message = self.messages.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                return None
            if message.topic in topics:
                return message
        return None

    def expect_json(self, topic: str, timeout: float = 10) -> Any:
        message = self.expect(topic, timeout=timeout)
        return None if message is None else json.loads(message.payload)

    def chunk(
        self, request_id: int, index: int, size: int | str | None, prefix: str = wire.FIRMWARE
    ) -> bytes | None:
        """Chunk `index` of `size` bytes (None: an empty payload), or None if no reply came.

        An error on v2/fw/error (seen only when subscribed to it) raises ChunkRefused.
        """
        payload = b"" if size is None else str(size).encode()
        self.publish(wire.chunk_request_topic(prefix, request_id, index), payload)
        response = wire.chunk_response_prefix(prefix, request_id) + str(index)
        reply = self.expect(response, wire.OTA_ERROR_TOPIC)
        if reply is not None and reply.topic == wire.OTA_ERROR_TOPIC:
            raise ChunkRefused(bytes(reply.payload).decode(errors="replace"))
        return None if reply is None else bytes(reply.payload)

    def attributes(self, request_id: int, keys: list[str]) -> dict[str, Any] | None:
        self.publish(
            wire.ATTRIBUTES_REQUEST_TOPIC + str(request_id),
            json.dumps({"sharedKeys": ",".join(keys)}),
        )
        answer: dict[str, Any] | None = self.expect_json(
            wire.ATTRIBUTES_RESPONSE_TOPIC + str(request_id)
        )
        return answer


class CoapDevice:
    """An aiocoap client context on a loop of its own, called from synchronous checks."""

    def __init__(self, host: str, port: int, token: str) -> None:
        self.base, self.token = f"coap://{host}:{port}", token
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._context = self._run(aiocoap.Context.create_client_context())
        # aiocoap cancels an observation whose request is collected, and asyncio keeps only weak
        # references to tasks: both live as long as the device.
        self._observing: list[tuple[Any, asyncio.Task[None]]] = []

    def __enter__(self) -> CoapDevice:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._run(self._context.shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(60)

    def request(self, code: aiocoap.Code, path: str, payload: bytes = b"") -> aiocoap.Message:
        message = aiocoap.Message(code=code, uri=self.base + path, payload=payload)

        async def send() -> aiocoap.Message:
            return await self._context.request(message).response

        return self._run(send())

    def get(self, path: str) -> aiocoap.Message:
        return self.request(aiocoap.GET, path)

    def post(self, path: str, body: Any) -> aiocoap.Message:
        return self.request(aiocoap.POST, path, json.dumps(body).encode())

    def observe(self, path: str) -> tuple[aiocoap.Message, queue.Queue[aiocoap.Message]]:
        """The first response to a GET with Observe=0, and a queue of the notifications."""
        notifications: queue.Queue[aiocoap.Message] = queue.Queue()
        message = aiocoap.Message(code=aiocoap.GET, uri=self.base + path, observe=0)

        async def start() -> aiocoap.Message:
            request = self._context.request(message)
            first: aiocoap.Message = await request.response

            async def follow() -> None:
                async for notification in request.observation:
                    notifications.put(notification)

            self._observing.append((request, asyncio.get_running_loop().create_task(follow())))
            return first

        return self._run(start()), notifications


def code_text(message: aiocoap.Message) -> str:
    """A CoAP response code as its dotted number, e.g. "2.05"."""
    return str(message.code.dotted)
