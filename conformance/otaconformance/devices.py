"""A device's side of the transports, with real clients: httpx, paho-mqtt, aiocoap.

`open_device` gives the same `Device` on each of the four transports (HTTP, MQTT 3.1.1, MQTT 5,
CoAP), so that a check is parametrized over them; `HttpDevice`, `MqttDevice` and `CoapDevice` are
the clients beneath, for what only one transport has."""

from __future__ import annotations

import asyncio
import json
import queue
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import aiocoap
import httpx
import paho.mqtt.client as paho
from otaclient import protocol as wire
from otatarget.mqtt import PahoDevice

from .rules import Transport

if TYPE_CHECKING:
    from .target import Target

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


class MqttDevice(PahoDevice):
    """otatarget's paho device (MQTT 5 unless `version=3`), with the suite's OTA requests."""

    def __init__(self, host: str, port: int, token: str, version: int = 5) -> None:
        super().__init__(host, port, token, version)

    def __enter__(self) -> MqttDevice:
        return self

    def expect(self, *topics: str, timeout: float = 10) -> paho.MQTTMessage | None:
        """The next message on one of `topics` (others that come first are dropped), or None."""
        return self.next_on(*topics, timeout=timeout)

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
        return self.send(aiocoap.Message(code=code, uri=self.base + path, payload=payload))

    def send(self, message: aiocoap.Message, blockwise: bool = True) -> aiocoap.Message:
        """The response to `message` (its uri under `self.base`); with blockwise=False aiocoap
        leaves Block2 alone: one request, one block."""

        async def send() -> aiocoap.Message:
            return await self._context.request(message, handle_blockwise=blockwise).response

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
                # The observation ends with an error when the context shuts down: not to be
                # logged (a traceback formatted in this thread while pytest formats a failure
                # in another trips CPython 3.11's ast.parse: "recursion depth mismatch").
                try:
                    async for notification in request.observation:
                        notifications.put(notification)
                except aiocoap.error.Error:
                    return

            self._observing.append((request, asyncio.get_running_loop().create_task(follow())))
            return first

        return self._run(start()), notifications


def code_text(message: aiocoap.Message) -> str:
    """A CoAP response code as its dotted number, e.g. "2.05"."""
    return str(message.code.dotted)


# The uniform device: what a rule needs, on any of the four transports.


@dataclass(frozen=True)
class Fetched:
    """The answer to a download request, in the transport's terms.

    `status`: the HTTP status ("200"), the CoAP code ("2.05"), or over MQTT "reply" for a
    chunk reply, the text of v2/fw/error for an error, "none" when nothing came."""

    status: str
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    qos: int | None = None  # MQTT: the QoS the reply was published at


@dataclass(frozen=True)
class Posted:
    """A telemetry or attribute post's answer: HTTP status, CoAP code, or "published" (MQTT)."""

    status: str
    body: bytes = b""


MQTT_REPLY = "reply"
NO_ANSWER = "none"


class Device(ABC):
    """One device token on one transport (`open_device`)."""

    transport: Transport
    token: str

    def __enter__(self) -> Device:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def request_attributes(self, shared: Sequence[str] = (), client: Sequence[str] = ()) -> Any:
        """The answer to an attribute request (JSON), None if none came."""

    @abstractmethod
    def post_attributes(self, body: Any) -> Posted:
        """Posts client attributes."""

    @abstractmethod
    def post_telemetry(self, body: Any) -> Posted: ...

    @abstractmethod
    def watch(self) -> str:
        """Starts receiving shared-attribute updates (MQTT subscription, CoAP observe, HTTP long
        poll); says how the server took it ("2.05" for CoAP's first response)."""

    @abstractmethod
    def _next_update(self, timeout: float) -> Any: ...

    def updates(
        self, until: Callable[[list[dict[str, Any]]], bool], timeout: float
    ) -> list[dict[str, Any]]:
        """The updates received (after `watch`) until `until` holds of them or `timeout` passes."""
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while not until(found) and time.monotonic() < deadline:
            update = self._next_update(min(1.0, max(0.01, deadline - time.monotonic())))
            if update is not None:
                found.append(update)
        return found

    @abstractmethod
    def fetch(
        self,
        kind: KindLike,
        package: Mapping[str, Any] | None = None,
        size: int | None = None,
        index: int = 0,
        request_id: int = 1,
    ) -> Fetched:
        """A download request: chunk `index` of `size` bytes, or the whole file when size is
        None. `package` gives the title and version where the transport sends them (HTTP always,
        CoAP when given); `request_id` is MQTT's."""

    def chunk(
        self,
        kind: KindLike,
        index: int,
        size: int | None,
        package: Mapping[str, Any] | None = None,
        request_id: int = 1,
    ) -> bytes | None:
        """The body of a successful download, None otherwise."""
        got = self.fetch(kind, package, size, index, request_id)
        return got.body if got.status in ("200", "2.05", MQTT_REPLY) else None


class KindLike(Protocol):
    """A package type as the checks name it (target.Kind): its key prefix and HTTP path."""

    @property
    def prefix(self) -> str: ...

    @property
    def path(self) -> str: ...


def _next_json(messages: queue.Queue[Any], timeout: float) -> Any:
    """The JSON payload of the next message (MQTT or CoAP), or None after `timeout` seconds."""
    try:
        return json.loads(messages.get(timeout=timeout).payload)
    except queue.Empty:
        return None


def _query(package: Mapping[str, Any] | None, size: int | None, index: int) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if package is not None:
        params |= {"title": package["title"], "version": package["version"]}
    if size is not None:
        params |= {"size": size, "chunk": index}
    return params


class HttpFacade(Device):
    transport = Transport.HTTP

    def __init__(self, url: str, token: str, poll_ms: int = 20_000) -> None:
        self.raw, self.token, self.poll_ms = HttpDevice(url, token), token, poll_ms
        self._updates: queue.Queue[Any] = queue.Queue()
        self._closed = threading.Event()

    def close(self) -> None:
        self._closed.set()
        self.raw.http.close()

    def request_attributes(self, shared: Sequence[str] = (), client: Sequence[str] = ()) -> Any:
        params = {"clientKeys": ",".join(client), "sharedKeys": ",".join(shared)}
        response = self.raw.get("attributes", **{k: v for k, v in params.items() if v})
        return response.json() if response.status_code == 200 else None

    def post_attributes(self, body: Any) -> Posted:
        response = self.raw.post("attributes", body)
        return Posted(str(response.status_code), response.content)

    def post_telemetry(self, body: Any) -> Posted:
        response = self.raw.post("telemetry", body)
        return Posted(str(response.status_code), response.content)

    def watch(self) -> str:
        threading.Thread(target=self._poll, daemon=True).start()
        time.sleep(0.5)  # an update before the first poll waits is not the poll's (as on TB)
        return "ok"

    def _poll(self) -> None:
        """Long polls, one after the other: an update between two of them is lost (as on TB)."""
        while not self._closed.is_set():
            try:
                response = self.raw.get("attributes/updates", timeout=self.poll_ms)
            except Exception:  # the device was closed under the poll
                return
            if response.status_code == 200 and response.content:
                self._updates.put(response.json())

    def _next_update(self, timeout: float) -> Any:
        try:
            return self._updates.get(timeout=timeout)
        except queue.Empty:
            return None

    def fetch(
        self,
        kind: KindLike,
        package: Mapping[str, Any] | None = None,
        size: int | None = None,
        index: int = 0,
        request_id: int = 1,
    ) -> Fetched:
        params = _query(package, size, index)
        response = self.raw.get(kind.path, **params)
        return Fetched(str(response.status_code), response.content, dict(response.headers))


class MqttFacade(Device):
    def __init__(self, host: str, port: int, token: str, transport: Transport) -> None:
        self.transport, self.token = transport, token
        self.raw = MqttDevice(host, port, token, 3 if transport is Transport.MQTT3 else 5)
        self._pushes: queue.Queue[paho.MQTTMessage] = queue.Queue()
        self.granted: dict[str, list[Any]] = {}  # the SUBACK reason codes of each filter

        # Pushes apart from the rest: a request's wait for its reply must not drop them.
        def route(_c: Any, _u: Any, message: paho.MQTTMessage) -> None:
            pushed = message.topic == wire.ATTRIBUTES_TOPIC
            (self._pushes if pushed else self.raw.messages).put(message)

        self.raw.client.on_message = route

    def close(self) -> None:
        self.raw.__exit__()

    def _subscribe(self, topic: str) -> None:
        if topic not in self.granted:
            self.granted[topic] = self.raw.subscribe(topic)

    def request_attributes(
        self, shared: Sequence[str] = (), client: Sequence[str] = (), request_id: int = 1
    ) -> Any:
        self._subscribe(wire.ATTRIBUTES_RESPONSE_FILTER)
        body = {"clientKeys": ",".join(client), "sharedKeys": ",".join(shared)}
        self.raw.publish(
            wire.ATTRIBUTES_REQUEST_TOPIC + str(request_id),
            json.dumps({k: v for k, v in body.items() if v}),
        )
        return self.raw.expect_json(wire.ATTRIBUTES_RESPONSE_TOPIC + str(request_id))

    def post_attributes(self, body: Any) -> Posted:
        self.raw.publish(wire.ATTRIBUTES_TOPIC, json.dumps(body))
        return Posted("published")

    def post_telemetry(self, body: Any) -> Posted:
        self.raw.publish(wire.TELEMETRY_TOPIC, json.dumps(body))
        return Posted("published")

    def watch(self) -> str:
        self._subscribe(wire.ATTRIBUTES_TOPIC)
        return "ok"

    def _next_update(self, timeout: float) -> Any:
        return _next_json(self._pushes, timeout)

    def fetch(
        self,
        kind: KindLike,
        package: Mapping[str, Any] | None = None,
        size: int | None = None,
        index: int = 0,
        request_id: int = 1,
    ) -> Fetched:
        """MQTT sends no title or version (`package` is not used); size None is an empty
        payload."""
        payload = b"" if size is None else str(size).encode()
        self.raw.publish(wire.chunk_request_topic(kind.prefix, request_id, index), payload)
        response = wire.chunk_response_prefix(kind.prefix, request_id) + str(index)
        reply = self.raw.expect(response, wire.OTA_ERROR_TOPIC)
        if reply is None:
            return Fetched(NO_ANSWER)
        if reply.topic == wire.OTA_ERROR_TOPIC:
            return Fetched(bytes(reply.payload).decode(errors="replace"))
        return Fetched(MQTT_REPLY, bytes(reply.payload), qos=reply.qos)


class CoapFacade(Device):
    transport = Transport.COAP

    def __init__(self, host: str, port: int, token: str) -> None:
        self.raw, self.token = CoapDevice(host, port, token), token
        self.api = f"/api/v1/{token}"
        self._notifications: queue.Queue[aiocoap.Message] | None = None

    def close(self) -> None:
        self.raw.__exit__()

    def request_attributes(self, shared: Sequence[str] = (), client: Sequence[str] = ()) -> Any:
        query = {"clientKeys": ",".join(client), "sharedKeys": ",".join(shared)}
        asked = "&".join(f"{k}={v}" for k, v in query.items() if v)
        answer = self.raw.get(f"{self.api}/attributes" + (f"?{asked}" if asked else ""))
        return json.loads(answer.payload) if code_text(answer) == "2.05" else None

    def post_attributes(self, body: Any) -> Posted:
        answer = self.raw.post(f"{self.api}/attributes", body)
        return Posted(code_text(answer), answer.payload)

    def post_telemetry(self, body: Any) -> Posted:
        answer = self.raw.post(f"{self.api}/telemetry", body)
        return Posted(code_text(answer), answer.payload)

    def watch(self) -> str:
        first, self._notifications = self.raw.observe(f"{self.api}/attributes")
        return code_text(first)

    def _next_update(self, timeout: float) -> Any:
        assert self._notifications is not None, "watch() first"
        return _next_json(self._notifications, timeout)

    def fetch(
        self,
        kind: KindLike,
        package: Mapping[str, Any] | None = None,
        size: int | None = None,
        index: int = 0,
        request_id: int = 1,
    ) -> Fetched:
        """Without `size` the whole file, which aiocoap fetches blockwise."""
        asked = "&".join(f"{k}={v}" for k, v in _query(package, size, index).items())
        answer = self.raw.get(f"/{kind.prefix}/{self.token}" + (f"?{asked}" if asked else ""))
        return Fetched(code_text(answer), answer.payload)


def open_device(target: Target, transport: Transport, token: str) -> Device:
    """The device of `token` on `transport`, connected."""
    if transport is Transport.HTTP:
        return HttpFacade(target.url, token)
    if transport is Transport.COAP:
        return CoapFacade(target.coap_host, target.coap_port, token)
    return MqttFacade(target.mqtt_host, target.mqtt_port, token, transport)
