"""One MQTT device connection: CONNECT, the device topics, attribute pushes, chunk downloads."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from otamqtt.codec import Decoder, MalformedPacket, UnsupportedProtocolVersion, encode
from otamqtt.packets import (
    Auth,
    ConnAck,
    Connect,
    ConnectReturnCode,
    Disconnect,
    Packet,
    PingReq,
    PingResp,
    ProtocolVersion,
    PubAck,
    PubComp,
    Publish,
    PubRec,
    PubRel,
    ReasonCode,
    SubAck,
    Subscribe,
    UnsubAck,
    Unsubscribe,
)
from otamqtt.properties import Properties, PropertyId

from ...domain import faults
from ...domain.errors import OtaError, Unauthorized
from ...domain.faults import Fault
from ...domain.ota import chunk_range
from ...domain.telemetry import split_keys
from ...metrics import Metrics
from ...services.device_api import DeviceApi, DeviceIdentity
from ...services.ports import BlobMissing
from ...sessions import SessionRegistry, Subscription, Transport
from . import topics
from .downloads import Binding, Bindings, DownloadError, parse_chunk_size, publish_header
from .subscriptions import Subscriptions

log = logging.getLogger(__name__)
V5 = ProtocolVersion.V5
_MQTT = {"transport": "mqtt"}  # for JSON log lines
READ_SIZE = 64 * 1024
# Chunks up to this size are read into memory and sent in one write; larger ones are streamed.
INLINE_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Limits:
    max_chunk_size: int
    max_packet_size: int
    connect_timeout: float = 10.0
    max_subscriptions: int = 64
    max_downloads: int = 16


class Closed(Exception):
    """Ends the connection; `reason` goes in an MQTT 5 DISCONNECT first when set."""

    def __init__(self, reason: int | None = None, text: str = "") -> None:
        super().__init__(text)
        self.reason = reason


class Connection:
    # Thousands of idle devices each hold one: slots, and nothing made before it is needed
    # (no task nor queue for attribute pushes until one comes).
    __slots__ = (
        "_decoder",
        "_device",
        "_device_api",
        "_downloads",
        "_end",
        "_limits",
        "_metrics",
        "_next_packet_id",
        "_pusher",
        "_pushes",
        "_reader",
        "_session",
        "_sessions",
        "_subscriptions",
        "_version",
        "_write_lock",
        "_writer",
        "client_id",
    )

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        device_api: DeviceApi,
        sessions: SessionRegistry,
        limits: Limits,
        metrics: Metrics | None = None,
    ) -> None:
        self._reader, self._writer = reader, writer
        self._metrics = metrics
        self._device_api, self._sessions, self._limits = device_api, sessions, limits
        self._decoder = Decoder(max_packet_size=limits.max_packet_size)
        self._version = ProtocolVersion.V311
        self._device: DeviceIdentity | None = None
        self._subscriptions = Subscriptions(limits.max_subscriptions)
        self._downloads = Bindings(limits.max_downloads)
        self._write_lock = asyncio.Lock()
        self._next_packet_id = 0
        self._pushes: collections.deque[dict[str, Any]] | None = None  # not yet sent
        self._pusher: asyncio.Task[None] | None = None  # sending them, while there are any
        self._session: Subscription | None = None
        self.client_id = ""
        self._end = "closed by the device"  # why the session ended, for its closing log line

    # ---- life cycle -------------------------------------------------------------------------

    async def run(self, on_connected: Callable[[Connection], None] = lambda _: None) -> None:
        try:
            connect, packets = await self._read_connect()
            await self._accept(connect)
            on_connected(self)
            keep_alive = connect.keep_alive * 1.5 if connect.keep_alive else None
            while True:
                for packet in packets:
                    await self._handle(packet)
                packets = await self._read_packets(keep_alive)
        except Closed as closed:
            if str(closed):
                self._end = f"closed by the server: {closed}"
            if closed.reason is not None and self._version is V5 and self._device is not None:
                await self._send_quietly(Disconnect(closed.reason, _reason_string(str(closed))))
        except UnsupportedProtocolVersion:
            await self._send_quietly(
                ConnAck(False, ConnectReturnCode.UNACCEPTABLE_PROTOCOL_VERSION),
                ProtocolVersion.V311,
            )
        except MalformedPacket as error:
            if self._decoder.version is V5:
                self._version = V5
                code = error.reason_code
                reply: Packet = Disconnect(code) if self._device else ConnAck(False, code)
                await self._send_quietly(reply)
        except TimeoutError:
            self._end = "keep-alive timeout"
        except (ConnectionError, asyncio.IncompleteReadError):
            self._end = "connection lost"
        except asyncio.CancelledError:
            self._end = "server shutting down"
            raise
        except Exception:
            self._end = "failed"
            log.exception("MQTT connection of %s failed", self._device)
        finally:
            if self._pusher is not None:
                self._pusher.cancel()
            if self._session is not None:
                self._session.close()
                log.info(
                    "MQTT session closed: device %r (%s)",
                    self._device.name if self._device else "?",
                    self._end,
                    extra=_MQTT,
                )
            self._writer.close()
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()

    def close(self) -> None:
        """Called when another connection takes over this client id."""
        self._writer.close()

    async def shut_down(self, timeout: float) -> None:
        """The server is stopping: an MQTT 5 device hears so (DISCONNECT 0x8B, Server shutting
        down) and every device's connection is closed, which ends `run` as a peer's close does.
        A 3.1.1 device, which has no DISCONNECT from a server, just sees the connection end."""
        if self._version is V5 and self._device is not None:
            with contextlib.suppress(Exception):
                # Waits for a chunk being written to finish, a stuck reader for no longer.
                async with asyncio.timeout(timeout):
                    await self._send(Disconnect(ReasonCode.SERVER_SHUTTING_DOWN))
        self._writer.close()

    async def _read_packets(self, timeout: float | None) -> list[Packet]:
        while True:
            async with asyncio.timeout(timeout):
                data = await self._reader.read(READ_SIZE)
            if not data:
                raise Closed()
            packets = self._decoder.feed(data)
            if packets:
                return packets

    async def _read_connect(self) -> tuple[Connect, list[Packet]]:
        """The CONNECT, and the packets that came with it: a client need not wait for the
        CONNACK (MQTT 3.1.4); they are handled once the CONNECT is accepted, else never."""
        async with asyncio.timeout(self._limits.connect_timeout):
            packets = await self._read_packets(None)
        connect = packets[0]
        assert isinstance(connect, Connect)  # the decoder accepts nothing else first
        self._version = connect.protocol_version
        return connect, packets[1:]

    async def _accept(self, connect: Connect) -> None:
        v5 = self._version is V5
        try:
            if not connect.username:
                raise Unauthorized("no access token")
            self._device = await self._authenticate(connect.username)
        except Unauthorized:
            if faults.active(Fault.BAD_TOKEN_ACCEPTED):
                await self._send(ConnAck(False, 0))
                raise Closed() from None
            code = ReasonCode.NOT_AUTHORIZED if v5 else ConnectReturnCode.NOT_AUTHORIZED
            await self._send(ConnAck(False, code))
            raise Closed() from None
        self.client_id = connect.client_id or f"otakit-{uuid.uuid4().hex}"
        properties = Properties({})
        if v5:
            values: dict[PropertyId, int | str] = {
                PropertyId.MAXIMUM_QOS: 1,
                PropertyId.MAXIMUM_PACKET_SIZE: self._limits.max_packet_size,
                PropertyId.SHARED_SUBSCRIPTION_AVAILABLE: 0,
            }
            if not connect.client_id:
                values[PropertyId.ASSIGNED_CLIENT_IDENTIFIER] = self.client_id
            properties = Properties(values)
        await self._send(ConnAck(False, 0, properties))
        self._session = self._sessions.subscribe(
            self._device.device_id, self._on_push, Transport.MQTT
        )
        # Neither the user name (the access token) nor the client id, which devices often
        # make from their token (otakit's own client does).
        log.info(
            "MQTT session opened: device %r (MQTT %s)",
            self._device.name,
            "5" if v5 else "3.1.1",
            extra=_MQTT,
        )

    async def _authenticate(self, token: str) -> DeviceIdentity:
        """The token's device. In a storm of connects the tokens wait for one query at a time
        and are looked up together (DeviceApi.sign_in), rather than each holding a database
        connection until the pool runs out and the rest fail."""
        return await self._device_api.sign_in(token)

    # ---- sending ----------------------------------------------------------------------------

    def _packet_id(self) -> int:
        self._next_packet_id = self._next_packet_id % 0xFFFF + 1
        return self._next_packet_id

    async def _send(self, packet: Packet, version: ProtocolVersion | None = None) -> None:
        data = encode(packet, version or self._version)
        async with self._write_lock:
            self._write(data)
            await self._writer.drain()

    def _write(self, data: bytes) -> None:
        # asyncio's loop drops a write to a closed connection; uvloop's raises RuntimeError.
        if self._writer.is_closing():
            raise ConnectionResetError("the connection is closed")
        self._writer.write(data)

    async def _send_quietly(self, packet: Packet, version: ProtocolVersion | None = None) -> None:
        with contextlib.suppress(Exception):
            await self._send(packet, version)

    def _qos_for(self, topic: str) -> int:
        """The granted QoS of a subscription matching `topic`; 1 when none does."""
        granted = self._subscriptions.qos_for(topic)
        return 1 if granted is None else granted

    async def _publish(self, topic: str, payload: bytes, qos: int) -> None:
        packet_id = self._packet_id() if qos else None
        await self._send(Publish(topic, payload, qos=qos, packet_id=packet_id))

    def _on_push(self, update: dict[str, Any]) -> None:
        """A shared-attribute update for the device: sent in order, by a task that lives
        while there are updates to send."""
        if self._pushes is None:
            self._pushes = collections.deque()
        self._pushes.append(update)
        if self._pusher is None:
            self._pusher = asyncio.ensure_future(self._send_pushes())

    async def _send_pushes(self) -> None:
        """Shared-attribute updates, to a device subscribed to them."""
        pushes = self._pushes
        try:
            while pushes:
                update = pushes.popleft()
                granted = self._subscriptions.qos_for(topics.ATTRIBUTES)
                if granted is not None:
                    with contextlib.suppress(Exception):
                        await self._publish(topics.ATTRIBUTES, _json(update), granted)
        finally:
            self._pusher = None

    # ---- receiving --------------------------------------------------------------------------

    async def _handle(self, packet: Packet) -> None:
        match packet:
            case Publish():
                await self._on_publish(packet)
            case Subscribe():
                await self._on_subscribe(packet)
            case Unsubscribe():
                codes = tuple(
                    0 if self._subscriptions.remove(f) else ReasonCode.NO_SUBSCRIPTION_EXISTED
                    for f in packet.topic_filters
                )
                await self._send(UnsubAck(packet.packet_id, codes))
            case PingReq():
                await self._send(PingResp())
            case PubRel():
                await self._send(PubComp(packet.packet_id))
            case PubAck() | PubRec() | PubComp():
                pass  # our QoS 1 pushes are fire-and-forget: a lost device reconnects and asks
            case Disconnect():
                raise Closed()
            case Auth():
                raise Closed(ReasonCode.BAD_AUTHENTICATION_METHOD, "no enhanced authentication")
            case _:
                raise Closed(ReasonCode.PROTOCOL_ERROR, f"unexpected {type(packet).__name__}")

    async def _on_subscribe(self, packet: Subscribe) -> None:
        codes = []
        v5 = self._version is V5
        for subscription in packet.subscriptions:
            topic_filter = subscription.topic_filter
            qos = min(subscription.qos, 1)
            if not (topics.valid_filter(topic_filter) and topics.allowed_filter(topic_filter)):
                codes.append(ReasonCode.TOPIC_FILTER_INVALID if v5 else 0x80)
            elif not self._subscriptions.add(topic_filter, qos):
                codes.append(ReasonCode.QUOTA_EXCEEDED if v5 else 0x80)
            else:
                codes.append(qos)
        await self._send(SubAck(packet.packet_id, tuple(codes)))

    async def _ack(self, packet: Publish, code: int = 0, text: str = "") -> None:
        if packet.qos == 1:
            reason = code if self._version is V5 else 0
            await self._send(PubAck(packet.packet_id or 0, reason, _reason_string(text)))
        elif packet.qos == 2:
            await self._send(PubRec(packet.packet_id or 0))

    async def _on_publish(self, packet: Publish) -> None:
        chunk = topics.chunk_request(packet.topic)
        if chunk is not None:
            await self._ack(packet)
            await self._on_chunk_request(chunk, packet.payload)
            return
        try:
            await self._on_device_message(packet)
        except OtaError as error:
            # MQTT 5 can say what was wrong; a 3.1.1 device is disconnected, as ThingsBoard does.
            if self._version is not V5:
                raise Closed() from error
            await self._ack(packet, ReasonCode.PAYLOAD_FORMAT_INVALID, error.message)
            return
        await self._ack(packet)

    async def _on_device_message(self, packet: Publish) -> None:
        assert self._device is not None
        topic = packet.topic
        api = self._device_api
        if topic == topics.TELEMETRY:
            await api.post_telemetry(self._device, packet.payload)
        elif topic == topics.ATTRIBUTES:
            await api.post_attributes(self._device, packet.payload)
        elif (request_id := topics.attribute_request_id(topic)) is not None:
            body = api.parse(packet.payload) if packet.payload else {}
            if not isinstance(body, dict):
                body = {}
            limit = api.limits.max_keys
            answer = await api.attributes(
                self._device,
                split_keys(_text(body.get("clientKeys")), limit=limit),
                split_keys(_text(body.get("sharedKeys")), limit=limit),
            )
            response = topics.ATTRIBUTES_RESPONSE_PREFIX + request_id
            await self._publish(response, _json(answer), self._qos_for(response))
        elif not topic.startswith(topics.RPC_PREFIX):
            log.debug("ignoring a publish on %s", topic)

    async def _on_chunk_request(self, request: topics.ChunkRequest, payload: bytes) -> None:
        assert self._device is not None
        started = time.perf_counter()
        try:
            size = parse_chunk_size(payload)
            key = (request.package_type.value, request.request_id)
            binding = self._downloads.get(key)
            if faults.active(Fault.REQUEST_NOT_PINNED):
                binding = None
            if binding is None:
                package = await self._device_api.package(self._device, request.package_type)
                if package is None:
                    raise DownloadError("NOT_FOUND")
                data = self._device_api.data_of(package)
                if data is None:
                    raise DownloadError("FAILURE")  # a URL package is fetched from its URL
                binding = Binding(data)
                self._downloads.put(key, binding)
            if size == 0 and not faults.active(Fault.SIZE_NOT_REUSED):
                size = binding.chunk_size
            binding.chunk_size = size
            if size > self._limits.max_chunk_size:
                raise DownloadError("PAYLOAD_TOO_LARGE")
            start, end = chunk_range(binding.data.size, size, request.index)
            await self._publish_range(request.response_topic, binding, start, end)
            if self._metrics is not None:
                self._metrics.chunk_served(Transport.MQTT, time.perf_counter() - started)
        except (DownloadError, BlobMissing) as error:
            # A blob that vanished mid-download (its package was deleted) is ThingsBoard's UNKNOWN.
            code = error.code if isinstance(error, DownloadError) else "UNKNOWN"
            await self._publish(topics.OTA_ERROR, code.encode(), self._qos_for(topics.OTA_ERROR))
            raise Closed(ReasonCode.UNSPECIFIED_ERROR, code) from None

    async def _publish_range(self, topic: str, binding: Binding, start: int, end: int) -> None:
        qos = self._qos_for(topic)
        if end - start <= INLINE_CHUNK:
            data = b"".join(
                [piece async for piece in self._device_api.read(binding.data, start, end)]
            )
            await self._publish(topic, data, qos)
            return
        # Large: the header, then the file piece by piece, never the whole payload in memory.
        header = publish_header(
            topic, qos, self._packet_id() if qos else None, end - start, self._version
        )
        async with self._write_lock:
            self._write(header)
            async for piece in self._device_api.read(binding.data, start, end):
                self._write(piece)
                await self._writer.drain()


def _json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _reason_string(text: str) -> Properties:
    return Properties({PropertyId.REASON_STRING: text}) if text else Properties({})
