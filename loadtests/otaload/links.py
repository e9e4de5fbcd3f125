"""A device's connection, one kind per transport, on gevent: one socket per device, no thread.

Every link offers the same calls, so the device does not care which it holds: `connect`,
`close`, `abort` (the connection drops under the device), `send_telemetry`,
`request_attributes` (the shared part of the answer), `request_chunk` (the chunk's bytes) and
`next_push` (the next attribute update the server pushes, or None after `timeout`). A failure
raises OtaFailure, its cause first. The wire names are otaclient.protocol's, the ones real
devices use.
"""

from __future__ import annotations

import json
from typing import Any, Protocol
from urllib.parse import urlencode

import gevent
import gevent.event
import gevent.queue
from aiocoap.numbers.codes import Code
from otaclient import protocol as p

from otaload import gcoap, gmqtt
from otaload.metrics import Cause, OtaFailure

Address = tuple[str, int] | None
CLOSED = object()  # queued when the connection ends, so a waiter wakes at once


class Link(Protocol):
    transport: str  # the request type of its Locust events: MQTT, MQTT5, HTTP, CoAP
    # An idle device asks for its attributes this often (None: never), where a push can be
    # missed: between two HTTP long polls, or a CoAP notification lost on the way.
    idle_poll_s: float | None

    def connect(self) -> None: ...
    def close(self) -> None: ...
    def abort(self) -> None: ...
    def send_telemetry(self, values: dict[str, Any]) -> None: ...
    def request_attributes(self, keys: list[str]) -> dict[str, Any]: ...
    def request_chunk(self, target: dict[str, Any], index: int, size: int) -> bytes: ...
    def next_push(self, timeout: float) -> dict[str, Any] | None: ...


def wait_push(pushes: gevent.queue.Queue, timeout: float, ended: str) -> dict[str, Any] | None:
    """The next push within `timeout` (None: none came); OtaFailure(CLOSED) when the connection
    ended (the mark stays queued for the next caller)."""
    try:
        push = pushes.get(timeout=timeout)
    except gevent.queue.Empty:
        return None
    if push is CLOSED:
        pushes.put(CLOSED)
        raise OtaFailure(Cause.CLOSED, ended)
    update: dict[str, Any] = push
    return update


class MqttLink:
    """ThingsBoard's MQTT device API (3.1.1 or 5) on otaload's gevent client."""

    def __init__(
        self,
        host: str,
        port: int,
        token: str,
        kind: str,
        *,
        version: int,
        timeout: float,
        source: Address = None,
    ) -> None:
        self.host, self.port, self.token, self.kind = host, port, token, kind
        self.version, self.timeout, self.source = version, timeout, source
        self.transport = "MQTT5" if version == 5 else "MQTT"
        self.idle_poll_s: float | None = None  # TCP and QoS 1 lose no push
        self._client: gmqtt.MqttClient | None = None
        self._pushes: gevent.queue.Queue = gevent.queue.Queue()
        self._replies: gevent.queue.Queue = gevent.queue.Queue()
        self._answers: dict[int, gevent.event.AsyncResult] = {}
        self._request_id = 0  # the chunk request id: a new one per connection
        self._attribute_request = 0

    def connect(self) -> None:
        self._pushes, self._replies = gevent.queue.Queue(), gevent.queue.Queue()
        client = gmqtt.MqttClient(
            self.host,
            self.port,
            client_id="otaload-" + self.token,
            username=self.token,
            version=self.version,
            timeout=self.timeout,
            on_message=self._message,
            source_address=self.source,
        )
        client.on_close = lambda _error: self._gone()
        self._client = client
        self._request_id += 1
        topics = [
            p.ATTRIBUTES_TOPIC,
            p.ATTRIBUTES_RESPONSE_FILTER,
            p.chunk_response_filter(self.kind),
            p.OTA_ERROR_TOPIC,
        ]
        try:
            client.connect()
            client.subscribe([(topic, 1) for topic in topics])
        except gmqtt.MqttError as error:
            client.abort()
            raise mqtt_failure("connect", error) from error

    def _gone(self) -> None:
        self._pushes.put(CLOSED)
        self._replies.put(CLOSED)
        for answer in self._answers.values():
            if not answer.ready():
                answer.set_exception(OtaFailure(Cause.CLOSED, "MQTT connection closed"))

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.disconnect()

    def abort(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.abort()

    def _publish(self, topic: str, payload: bytes) -> None:
        if self._client is None:
            raise OtaFailure(Cause.CLOSED, "not connected")
        try:
            self._client.publish(topic, payload, qos=1)
        except gmqtt.MqttError as error:
            raise mqtt_failure(f"publish to {topic}", error) from error

    def send_telemetry(self, values: dict[str, Any]) -> None:
        self._publish(p.TELEMETRY_TOPIC, json.dumps(values).encode())

    def request_attributes(self, keys: list[str]) -> dict[str, Any]:
        self._attribute_request += 1
        number = self._attribute_request
        answer = gevent.event.AsyncResult()
        self._answers[number] = answer
        try:
            body = json.dumps({"sharedKeys": ",".join(keys)}).encode()
            self._publish(p.ATTRIBUTES_REQUEST_TOPIC + str(number), body)
            shared: dict[str, Any] = answer.get(timeout=self.timeout)
            return shared
        except gevent.Timeout:
            raise OtaFailure(Cause.TIMEOUT, f"no attributes within {self.timeout} s") from None
        finally:
            del self._answers[number]

    def request_chunk(self, target: dict[str, Any], index: int, size: int) -> bytes:
        topic = p.chunk_request_topic(self.kind, self._request_id, index)
        self._publish(topic, str(size).encode() if size else b"")
        while True:
            try:
                reply = self._replies.get(timeout=self.timeout)
            except gevent.queue.Empty:
                raise OtaFailure(
                    Cause.TIMEOUT, f"no chunk {index} within {self.timeout} s"
                ) from None
            if reply is CLOSED:
                self._replies.put(CLOSED)
                raise OtaFailure(Cause.CLOSED, f"MQTT connection closed awaiting chunk {index}")
            got, data = reply
            if got is None:
                raise OtaFailure(Cause.ERROR_TOPIC, data.decode(errors="replace")[:200])
            if got == index:
                return bytes(data)
            # An answer to an earlier request of this connection (a retry's twin): dropped.

    def next_push(self, timeout: float) -> dict[str, Any] | None:
        return wait_push(self._pushes, timeout, "MQTT connection closed")

    def _message(self, topic: str, payload: bytes) -> None:
        what, number = p.incoming(topic, self.kind, self._request_id)
        if what == p.PUSH:
            self._pushes.put(json.loads(payload))
        elif what == p.ATTRIBUTES_RESPONSE:
            answer = self._answers.get(number)
            if answer is not None and not answer.ready():
                answer.set(json.loads(payload).get("shared", {}))
        elif what == p.CHUNK:
            self._replies.put((number, payload))
        elif what == p.OTA_ERROR:
            self._replies.put((None, payload))
        # Answers to an earlier connection's requests are dropped, as a device drops them.


def mqtt_failure(what: str, error: gmqtt.MqttError) -> OtaFailure:
    if isinstance(error, gmqtt.ConnectRefused | gmqtt.PublishRefused | gmqtt.SubscribeRefused):
        return OtaFailure(Cause.REFUSED, f"MQTT {what}: {error}")
    if isinstance(error, gmqtt.MqttTimeout):
        return OtaFailure(Cause.TIMEOUT, f"MQTT {what}: {error}")
    return OtaFailure(Cause.CLOSED, f"MQTT {what}: {error}")


class HttpLink:
    """ThingsBoard's HTTP device API on a Locust FastHttpUser's client: its requests are also
    Locust's own rows (GET/POST, named by path with the token left out)."""

    transport = "HTTP"
    idle_poll_s: float | None = 5.0

    def __init__(self, client: Any, token: str, kind: str, *, timeout: float) -> None:
        self.client, self.token, self.kind, self.timeout = client, token, kind, timeout
        self._closed = False

    def connect(self) -> None:
        self._closed = False  # nothing to open: the user's client keeps its connections

    def close(self) -> None:
        self._closed = True

    def abort(self) -> None:
        """The device's connections drop, a long poll in flight with them."""
        self._closed = True
        self.client.client.close()  # geventhttpclient's pool opens new ones when next asked

    def _call(self, method: str, path: str, query: dict[str, Any], name: str, **kw: Any) -> Any:
        """One request; its time limit is the user's network_timeout (FastHttpUser's)."""
        if self._closed:
            raise OtaFailure(Cause.CLOSED, "the device dropped its connection")
        url = p.http_path(self.token, path) + ("?" + urlencode(query) if query else "")
        with self.client.request(method, url, name=name, catch_response=True, **kw) as response:
            status = response.status_code
            if status in (200, 408):  # 408: a long poll that saw no change
                response.success()
                return response
            response.failure(f"{status}")
        if not status:
            raise OtaFailure(Cause.CLOSED, f"HTTP {path}: {response.error!r}")
        cause = Cause.REFUSED if status in (401, 403, 404) else Cause.FAILED
        raise OtaFailure(cause, f"HTTP {path}: {status} {(response.text or '')[:200]}")

    def send_telemetry(self, values: dict[str, Any]) -> None:
        name = "/api/v1/[token]/telemetry"
        self._call("POST", "telemetry", {}, name, json=values)

    def request_attributes(self, keys: list[str]) -> dict[str, Any]:
        query = {"sharedKeys": ",".join(keys)}
        response = self._call("GET", "attributes", query, "/api/v1/[token]/attributes")
        shared: dict[str, Any] = json.loads(response.content).get("shared", {})
        return shared

    def request_chunk(self, target: dict[str, Any], index: int, size: int) -> bytes:
        query = {"title": target["title"], "version": target["version"], "size": size}
        name = p.download_name(self.kind)
        response = self._call("GET", name, {**query, "chunk": index}, f"/api/v1/[token]/{name}")
        return bytes(response.content or b"")

    def next_push(self, timeout: float) -> dict[str, Any] | None:
        """A long poll: the server answers as soon as an attribute changes."""
        response = self._call(
            "GET",
            "attributes/updates",
            {"timeout": int(timeout * 1000)},
            "/api/v1/[token]/attributes/updates",
        )
        if response.status_code != 200 or not response.content:
            return None
        update: dict[str, Any] = json.loads(response.content)
        return update


class CoapLink:
    """ThingsBoard's CoAP device API on otaload's gevent client; pushes come by Observe."""

    transport = "CoAP"
    idle_poll_s: float | None = 30.0

    def __init__(
        self, host: str, port: int, token: str, kind: str, *, timeout: float, source: Address = None
    ) -> None:
        self.host, self.port, self.token, self.kind = host, port, token, kind
        self.timeout, self.source = timeout, source
        self._client: gcoap.CoapClient | None = None
        self._observation: gcoap.Observation | None = None

    @property
    def client(self) -> gcoap.CoapClient:
        if self._client is None:
            raise OtaFailure(Cause.CLOSED, "not connected")
        return self._client

    def connect(self) -> None:
        if self._client is None:
            self._client = gcoap.CoapClient(
                self.host, self.port, timeout=self.timeout, source_address=self.source
            )
        try:
            observation = self.client.observe(p.http_path(self.token, "attributes"))
        except gcoap.CoapError as error:
            raise coap_failure("observe", error) from error
        if not observation.first.ok:
            observation.cancel(active=False)
            raise OtaFailure(Cause.REFUSED, f"CoAP observe: {describe(observation.first)}")
        self._observation = observation

    def close(self) -> None:
        observation, self._observation = self._observation, None
        if observation is not None:
            observation.cancel()
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def abort(self) -> None:
        """A device that loses its link: its socket goes, the server keeps observing a ghost."""
        client, self._client, self._observation = self._client, None, None
        if client is not None:
            client.close()

    def _request(self, code: Code, path: str, payload: bytes = b"") -> bytes:
        try:
            response = self.client.request(code, path, payload)
        except gcoap.CoapError as error:
            raise coap_failure(path, error) from error
        return checked(path, response)

    def send_telemetry(self, values: dict[str, Any]) -> None:
        body = json.dumps(values).encode()
        self._request(Code.POST, p.http_path(self.token, "telemetry"), body)

    def request_attributes(self, keys: list[str]) -> dict[str, Any]:
        path = p.http_path(self.token, "attributes") + "?sharedKeys=" + ",".join(keys)
        shared: dict[str, Any] = json.loads(self._request(Code.GET, path)).get("shared", {})
        return shared

    def request_chunk(self, target: dict[str, Any], index: int, size: int) -> bytes:
        path = p.coap_download_path(self.kind, self.token)
        if size:
            path += f"?size={size}&chunk={index}"
        # A chunk larger than a datagram comes in Block2 blocks, as a real device reads it.
        try:
            response = self.client.get_blockwise(path)
        except gcoap.CoapError as error:
            raise coap_failure(path, error) from error
        return checked(path, response)

    def next_push(self, timeout: float) -> dict[str, Any] | None:
        if self._observation is None:
            raise OtaFailure(Cause.CLOSED, "not observing")
        try:
            notification = self._observation.next(timeout)
        except gcoap.CoapError as error:
            raise coap_failure("observation", error) from error
        if notification is None:
            return None
        update: dict[str, Any] = json.loads(notification.payload)
        return update


def checked(path: str, response: gcoap.Response) -> bytes:
    """A successful response's payload; else OtaFailure (refused for a 4.xx)."""
    if not response.ok:
        cause = Cause.REFUSED if response.code.class_ == 4 else Cause.FAILED
        raise OtaFailure(cause, f"CoAP {path}: {describe(response)}")
    return bytes(response.payload)


def describe(response: gcoap.Response) -> str:
    return f"{response.code} {response.payload[:200]!r}"


def coap_failure(what: str, error: gcoap.CoapError) -> OtaFailure:
    cause = {"timeout": Cause.TIMEOUT, "reset": Cause.REFUSED}.get(error.cause, Cause.CLOSED)
    return OtaFailure(cause, f"CoAP {what}: {error}")
