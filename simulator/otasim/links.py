"""A virtual device's connection to the server, one kind per transport, all on one event loop.

Every link offers the same few calls, so the device runner does not care which it holds:
`connect`, `close`, `abort` (the connection drops under the device), `send_telemetry`,
`request_attributes` (the shared part of the answer), `request_chunk` (its answer lands in
`replies` as `(index, data)`, where a fault model can also slip duplicates and stale answers),
and `next_push` (the next attribute update the server pushes, or None after `timeout`).
Failures of any kind raise LinkError: the device backs off and reconnects, as a real one does.

The wire names come from otaclient.protocol, the ones real devices use.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any, Protocol

import aiocoap
import httpx
from otaclient import protocol as p

from otasim import mqtt_client

Reply = tuple[int, bytes]
LOST = -1  # the index of the reply a link queues when its connection is gone


class LinkError(Exception):
    """The request got no answer, or the connection is gone."""


def lose_replies(replies: asyncio.Queue[Reply]) -> None:
    """The connection drops: answers not yet read are gone with it."""
    while not replies.empty():
        replies.get_nowait()
    replies.put_nowait((LOST, b""))


def take(pushes: asyncio.Queue[dict[str, Any] | None]) -> dict[str, Any] | None:
    """A push already received, if any; the connection's end stays queued for next_push."""
    if pushes.empty():
        return None
    push = pushes.get_nowait()
    if push is None:
        pushes.put_nowait(None)
    return push


async def wait_push(
    pushes: asyncio.Queue[dict[str, Any] | None], timeout: float, ended: str
) -> dict[str, Any] | None:
    """The next push within `timeout` (None: none came); LinkError(`ended`) at the end."""
    try:
        async with asyncio.timeout(timeout):
            push = await pushes.get()
    except TimeoutError:
        return None
    if push is None:
        raise LinkError(ended)
    return push


class Link(Protocol):
    replies: asyncio.Queue[Reply]
    idle_poll_s: float | None  # an idle device asks for its attributes this often (None: never)

    async def connect(self) -> None: ...
    async def close(self) -> None: ...
    def abort(self) -> None: ...
    async def send_telemetry(self, values: dict[str, Any]) -> None: ...
    async def request_attributes(self, keys: list[str]) -> dict[str, Any]: ...
    async def request_chunk(self, target: dict[str, Any], index: int, size: int) -> None: ...
    async def next_push(self, timeout: float) -> dict[str, Any] | None: ...


class MqttLink:
    """ThingsBoard's MQTT device API over otasim's asyncio client (3.1.1 or 5)."""

    def __init__(
        self, host: str, port: int, token: str, kind: str, version: int, timeout: float
    ) -> None:
        self.host, self.port, self.token, self.kind = host, port, token, kind
        self.version, self.timeout = version, timeout
        self.idle_poll_s: float | None = None  # TCP and QoS 1 lose no push
        self.replies: asyncio.Queue[Reply] = asyncio.Queue()
        self._pushes: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._answers: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._client: mqtt_client.MqttClient | None = None
        self._request_id = 0  # chunk request id: a new one per connection
        self._attribute_request = 0

    async def connect(self) -> None:
        self.replies, self._pushes = asyncio.Queue(), asyncio.Queue()
        try:
            client = await mqtt_client.connect(
                self.host,
                self.port,
                client_id="otasim-" + self.token,
                username=self.token,
                version=self.version,
                timeout=self.timeout,
                on_message=self._message,
            )
            self._client = client
            client.closed.add_done_callback(lambda _: self._gone())
            topics = (
                p.ATTRIBUTES_TOPIC,
                p.ATTRIBUTES_RESPONSE_FILTER,
                p.chunk_response_filter(self.kind),
            )
            await client.subscribe([(topic, 1) for topic in topics])
        except mqtt_client.MqttError as error:
            raise LinkError(f"MQTT connect: {error}") from error
        self._request_id += 1

    def _gone(self) -> None:
        self.replies.put_nowait((LOST, b""))
        self._pushes.put_nowait(None)
        for answer in self._answers.values():
            if not answer.done():
                answer.set_exception(LinkError("MQTT connection closed"))

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(mqtt_client.MqttError, OSError):
                await client.disconnect()

    def abort(self) -> None:
        if self._client is not None:
            self._client.abort()
        lose_replies(self.replies)

    def take_push(self) -> dict[str, Any] | None:
        return take(self._pushes)

    async def _publish(self, topic: str, payload: bytes) -> None:
        if self._client is None:
            raise LinkError("not connected")
        try:
            await self._client.publish(topic, payload, qos=1)
        except mqtt_client.MqttError as error:
            raise LinkError(f"MQTT publish to {topic}: {error}") from error

    async def send_telemetry(self, values: dict[str, Any]) -> None:
        await self._publish(p.TELEMETRY_TOPIC, json.dumps(values).encode())

    async def request_attributes(self, keys: list[str]) -> dict[str, Any]:
        self._attribute_request += 1
        number = self._attribute_request
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._answers[number] = answer
        try:
            body = json.dumps({"sharedKeys": ",".join(keys)}).encode()
            await self._publish(p.ATTRIBUTES_REQUEST_TOPIC + str(number), body)
            async with asyncio.timeout(self.timeout):
                return await answer
        except TimeoutError:
            raise LinkError(f"no attributes within {self.timeout} s") from None
        finally:
            del self._answers[number]
            if answer.done() and not answer.cancelled():
                # The connection ended while the request was being sent: the exception the
                # closing set on the answer is the publish's own; marked as seen, not logged.
                answer.exception()

    async def request_chunk(self, target: dict[str, Any], index: int, size: int) -> None:
        topic = p.chunk_request_topic(self.kind, self._request_id, index)
        await self._publish(topic, str(size).encode() if size else b"")

    async def next_push(self, timeout: float) -> dict[str, Any] | None:
        return await wait_push(self._pushes, timeout, "MQTT connection closed")

    def _message(self, topic: str, payload: bytes) -> None:
        what, number = p.incoming(topic, self.kind, self._request_id)
        if what == p.PUSH:
            self._pushes.put_nowait(json.loads(payload))
        elif what == p.ATTRIBUTES_RESPONSE:
            answer = self._answers.get(number)
            if answer is not None and not answer.done():
                answer.set_result(json.loads(payload).get("shared", {}))
        elif what == p.CHUNK:
            self.replies.put_nowait((number, payload))
        # Answers to an earlier connection's requests are dropped, as a device drops them.


class HttpLink:
    """ThingsBoard's HTTP device API on a client shared by the fleet (pooled connections)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        token: str,
        kind: str,
        timeout: float,
        idle_poll_s: float = 30.0,
    ) -> None:
        self.http, self.token, self.kind, self.timeout = http, token, kind, timeout
        # An update made while no poll is open yet (or between two polls) is lost, on
        # ThingsBoard as here; the device cannot tell when its poll is waiting. So a poll lasts
        # this long, and an idle device asks for its attributes after each one that saw nothing.
        self.idle_poll_s: float | None = idle_poll_s
        self.replies: asyncio.Queue[Reply] = asyncio.Queue()

    async def connect(self) -> None:
        self.replies = asyncio.Queue()

    async def close(self) -> None:
        pass  # the pool is the fleet's

    def abort(self) -> None:
        lose_replies(self.replies)

    async def _get(
        self, path: str, params: dict[str, Any], timeout: float | None = None
    ) -> httpx.Response:
        try:
            response = await self.http.get(
                p.http_path(self.token, path), params=params, timeout=timeout or self.timeout
            )
        except httpx.HTTPError as error:
            raise LinkError(f"HTTP GET {path}: {error!r}") from error
        if response.status_code not in (200, 408):
            raise LinkError(f"HTTP GET {path}: {response.status_code} {response.text[:200]}")
        return response

    async def send_telemetry(self, values: dict[str, Any]) -> None:
        try:
            response = await self.http.post(
                p.http_path(self.token, "telemetry"), json=values, timeout=self.timeout
            )
        except httpx.HTTPError as error:
            raise LinkError(f"HTTP telemetry: {error!r}") from error
        if response.status_code != 200:
            raise LinkError(f"HTTP telemetry: {response.status_code} {response.text[:200]}")

    async def request_attributes(self, keys: list[str]) -> dict[str, Any]:
        response = await self._get("attributes", {"sharedKeys": ",".join(keys)})
        shared: dict[str, Any] = response.json().get("shared", {})
        return shared

    async def request_chunk(self, target: dict[str, Any], index: int, size: int) -> None:
        query = {"title": target["title"], "version": target["version"], "size": size}
        response = await self._get(p.download_name(self.kind), {**query, "chunk": index})
        self.replies.put_nowait((index, response.content))

    async def next_push(self, timeout: float) -> dict[str, Any] | None:
        """A long poll: the server answers as soon as an attribute changes."""
        query = {"timeout": int(timeout * 1000)}
        response = await self._get("attributes/updates", query, timeout + self.timeout)
        if response.status_code != 200 or not response.content:
            return None
        update: dict[str, Any] = response.json()
        return update


class CoapLink:
    """ThingsBoard's CoAP device API; pushes come by Observe.

    Each device has a client context (a UDP socket) of its own, as a real one has: aiocoap lets
    one exchange at a time be outstanding per peer (NSTART = 1), so a shared socket would queue
    every device's requests behind each other's.
    """

    def __init__(
        self,
        base: str,
        token: str,
        kind: str,
        timeout: float,
        idle_poll_s: float = 30.0,
    ) -> None:
        self.base, self.token, self.kind = base, token, kind
        self._context: aiocoap.Context | None = None
        self.timeout = timeout
        # A notification lost on the way is not sent again: an idle device asks now and then.
        self.idle_poll_s: float | None = idle_poll_s
        self.replies: asyncio.Queue[Reply] = asyncio.Queue()
        self._pushes: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._observation: asyncio.Task[None] | None = None

    @property
    def context(self) -> aiocoap.Context:
        if self._context is None:
            raise LinkError("not connected")
        return self._context

    async def connect(self) -> None:
        self.replies, self._pushes = asyncio.Queue(), asyncio.Queue()
        if self._context is None:
            self._context = await aiocoap.Context.create_client_context()
        request = self.context.request(
            aiocoap.Message(
                code=aiocoap.GET, uri=self.base + p.http_path(self.token, "attributes"), observe=0
            )
        )
        try:
            async with asyncio.timeout(self.timeout):
                first = await request.response
        except (TimeoutError, aiocoap.error.Error) as error:
            if not request.observation.cancelled:  # an error has ended it already
                request.observation.cancel()
            raise LinkError(f"CoAP observe: {error!r}") from error
        if not first.code.is_successful():
            raise LinkError(f"CoAP observe: {first.code} {first.payload[:200]!r}")
        self._observation = asyncio.create_task(self._follow(request))

    async def _follow(self, request: Any) -> None:
        try:
            async for notification in request.observation:
                self._pushes.put_nowait(json.loads(notification.payload))
        except aiocoap.error.Error:
            pass
        finally:
            self._pushes.put_nowait(None)

    async def close(self) -> None:
        task, self._observation = self._observation, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        context, self._context = self._context, None
        if context is not None:
            await context.shutdown()

    def abort(self) -> None:
        lose_replies(self.replies)

    def take_push(self) -> dict[str, Any] | None:
        return take(self._pushes)

    async def _request(self, code: aiocoap.numbers.codes.Code, path: str, payload: bytes) -> bytes:
        message = aiocoap.Message(code=code, uri=self.base + path, payload=payload)
        try:
            async with asyncio.timeout(self.timeout):
                response = await self.context.request(message).response
        except (TimeoutError, aiocoap.error.Error) as error:
            raise LinkError(f"CoAP {path}: {error!r}") from error
        if not response.code.is_successful():
            raise LinkError(f"CoAP {path}: {response.code} {response.payload[:200]!r}")
        return bytes(response.payload)

    async def send_telemetry(self, values: dict[str, Any]) -> None:
        body = json.dumps(values).encode()
        await self._request(aiocoap.POST, p.http_path(self.token, "telemetry"), body)

    async def request_attributes(self, keys: list[str]) -> dict[str, Any]:
        path = p.http_path(self.token, "attributes") + "?sharedKeys=" + ",".join(keys)
        shared: dict[str, Any] = json.loads(await self._request(aiocoap.GET, path, b"")).get(
            "shared", {}
        )
        return shared

    async def request_chunk(self, target: dict[str, Any], index: int, size: int) -> None:
        path = p.coap_download_path(self.kind, self.token)
        if size:
            path += f"?size={size}&chunk={index}"
        self.replies.put_nowait((index, await self._request(aiocoap.GET, path, b"")))

    async def next_push(self, timeout: float) -> dict[str, Any] | None:
        return await wait_push(self._pushes, timeout, "CoAP observation ended")
