"""A device's side of the three transports, with real clients: httpx, paho-mqtt, aiocoap."""

from __future__ import annotations

import asyncio
import json
import queue
import threading
import time
from typing import Any

import aiocoap
import httpx
import paho.mqtt.client as paho
from otaclient import protocol as wire
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion


class HttpDevice:
    def __init__(self, url: str, token: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=30)
        self.token = token

    def close(self) -> None:
        self.http.close()

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(wire.http_path(self.token, path), params=params)

    def post(self, path: str, body: Any) -> httpx.Response:
        return self.http.post(wire.http_path(self.token, path), json=body)

    def chunk(
        self, title: str, version: str, size: int, index: int, kind: str = "firmware"
    ) -> httpx.Response:
        return self.get(kind, title=title, version=version, size=size, chunk=index)


class MqttDevice:
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
        self.client.loop_start()
        self.code = self.connected.get(timeout=15)

    @property
    def accepted(self) -> bool:
        return not self.code.is_failure if hasattr(self.code, "is_failure") else self.code == 0

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def subscribe(self, topic: str) -> None:
        done: queue.Queue[Any] = queue.Queue()
        self.client.on_subscribe = lambda *_a: done.put(True)
        self.client.subscribe(topic, 1)
        done.get(timeout=15)

    def publish(self, topic: str, payload: bytes | str) -> None:
        self.client.publish(topic, payload, 1).wait_for_publish(15)

    def expect(self, topic: str, timeout: float = 15) -> paho.MQTTMessage | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                message = self.messages.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                return None
            if message.topic == topic:
                return message
        return None

    def chunk(
        self, request_id: int, index: int, size: int | None, kind: str = "fw"
    ) -> bytes | None:
        payload = b"" if size is None else str(size).encode()
        self.publish(wire.chunk_request_topic(kind, request_id, index), payload)
        reply = self.expect(wire.chunk_response_prefix(kind, request_id) + str(index))
        return None if reply is None else bytes(reply.payload)

    def attributes(self, request_id: int, keys: list[str]) -> dict[str, Any] | None:
        self.publish(
            wire.ATTRIBUTES_REQUEST_TOPIC + str(request_id),
            json.dumps({"sharedKeys": ",".join(keys)}),
        )
        reply = self.expect(wire.ATTRIBUTES_RESPONSE_TOPIC + str(request_id))
        return None if reply is None else json.loads(reply.payload)


class CoapDevice:
    def __init__(self, host: str, port: int, token: str) -> None:
        self.base, self.token = f"coap://{host}:{port}", token
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._context = self._run(aiocoap.Context.create_client_context())

    def _run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(60)

    def close(self) -> None:
        self._run(self._context.shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def get(self, path: str) -> aiocoap.Message:
        async def send() -> aiocoap.Message:
            message = aiocoap.Message(code=aiocoap.GET, uri=self.base + path)
            return await self._context.request(message).response

        return self._run(send())
