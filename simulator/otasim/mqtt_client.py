"""A light asyncio MQTT 3.1.1 / 5 client on otamqtt's codec, for thousands of devices in one loop.

A connection costs a StreamReader/StreamWriter pair, one reader task and one timer handle for
the keep-alive, nothing else: no thread, no writer task, no queue. Each packet is encoded whole
and handed to the transport in one synchronous write, so writes from callers, the reader task
and the keep-alive timer never interleave and need no lock; the transport's buffer coalesces
them while the socket is busy.

QoS 0 and 1 only on the way out (the simulator needs nothing more); an incoming QoS 2 message is
answered as the protocol says, but delivered on arrival, so it may be delivered twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable, Iterable

from otamqtt.codec import Decoder, MalformedPacket, encode
from otamqtt.errors import (
    LINGER_RESET,
    ConnectionClosed,
    ConnectRefused,
    MqttError,
    MqttTimeout,
    PublishRefused,
    SubscribeRefused,
    code_name,
)
from otamqtt.packets import (
    ConnAck,
    Connect,
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
    Subscription,
    Will,
)
from otamqtt.properties import PropertyId

__all__ = [
    "ConnectRefused",
    "ConnectionClosed",
    "MessageHandler",
    "MqttClient",
    "MqttError",
    "MqttTimeout",
    "PublishRefused",
    "SubscribeRefused",
    "connect",
]

MessageHandler = Callable[[str, bytes], None]
READ_SIZE = 64 * 1024
_V5 = ProtocolVersion.V5


async def connect(
    host: str,
    port: int,
    *,
    client_id: str,
    username: str | None = None,
    password: str | bytes | None = None,
    version: int = 4,
    keepalive: int = 60,
    timeout: float = 10.0,
    clean_start: bool = True,
    will: Will | None = None,
    on_message: MessageHandler | None = None,
) -> MqttClient:
    """Connects and waits for CONNACK; `version` is 4 (MQTT 3.1.1) or 5.

    `timeout` bounds the connection and CONNACK, and later each wait for an acknowledgement.
    Raises ConnectRefused, MqttTimeout or ConnectionClosed (all MqttError); ValueError for
    arguments MQTT cannot carry, before any I/O.
    """
    protocol = ProtocolVersion(version)
    if isinstance(password, str):
        password = password.encode()
    request = Connect(client_id, protocol, clean_start, keepalive, username, password, will)
    data = encode(request, protocol)
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port)
            sock = writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            writer.write(data)
            decoder = Decoder(version=protocol, server_side=False)
            packets: list[Packet] = []
            while not packets:
                received = await reader.read(READ_SIZE)
                if not received:
                    raise ConnectionClosed(f"{host}:{port} closed the connection before CONNACK")
                packets = decoder.feed(received)
        connack = packets[0]
        if not isinstance(connack, ConnAck):
            raise MqttError(f"{host}:{port} answered CONNECT with {type(connack).__name__}")
        if connack.reason_code:
            name = code_name(connack.reason_code, protocol, connack=True)
            raise ConnectRefused(f"connection refused: {name}", connack.reason_code)
    except BaseException as error:
        if writer is not None:
            if isinstance(error, asyncio.CancelledError):
                writer.close()  # and no waiting: the caller wants out now
                raise
            await _close(writer, timeout)
        if isinstance(error, TimeoutError):
            raise MqttTimeout(f"no CONNACK from {host}:{port} within {timeout} s") from None
        if isinstance(error, OSError):
            raise ConnectionClosed(f"cannot connect to {host}:{port}: {error}") from error
        if isinstance(error, MalformedPacket):
            raise MqttError(f"malformed answer from {host}:{port}: {error}") from error
        raise
    client = MqttClient(reader, writer, decoder, connack, keepalive, timeout)
    client.on_message = on_message
    client._start(packets[1:])
    return client


async def _close(writer: asyncio.StreamWriter, timeout: float) -> None:
    writer.close()
    with contextlib.suppress(Exception):
        async with asyncio.timeout(timeout):
            await writer.wait_closed()


class MqttClient:
    """One connected MQTT session; made by `connect`.

    `closed` is a future that resolves, when the connection ends for any reason, to its cause:
    an MqttError (a ConnectionClosed for a peer's close, a reset, a server's DISCONNECT, this
    client's own disconnect() or abort(); an MqttTimeout for a missing PINGRESP; a plain
    MqttError for a broken protocol). `on_message(topic, payload)` is called from the reader
    task for each incoming PUBLISH, before its PUBACK; should it raise, the connection ends.
    """

    __slots__ = (
        "_decoder",
        "_keepalive",
        "_last_send",
        "_loop",
        "_next_id",
        "_pending",
        "_ping_sent",
        "_quota",
        "_reader",
        "_task",
        "_timer",
        "_writer",
        "closed",
        "connack",
        "on_message",
        "timeout",
        "version",
    )

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        decoder: Decoder,
        connack: ConnAck,
        keepalive: int,
        timeout: float,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._reader, self._writer, self._decoder = reader, writer, decoder
        self.version = decoder.version or ProtocolVersion.V311
        self.connack = connack
        self.timeout = timeout
        self.on_message: MessageHandler | None = None
        self.closed: asyncio.Future[MqttError] = self._loop.create_future()
        server_keepalive = connack.properties.get_int(PropertyId.SERVER_KEEP_ALIVE)
        self._keepalive = keepalive if server_keepalive is None else server_keepalive
        self._last_send = self._loop.time()  # the CONNECT, just sent
        self._ping_sent: float | None = None  # when the unanswered PINGREQ went out
        self._pending: dict[int, asyncio.Future[Packet | None]] = {}
        # MQTT 5: how many of our QoS 1 publishes may await PUBACK at once (spec 3.2.2.3.3).
        receive_maximum = connack.properties.get_int(PropertyId.RECEIVE_MAXIMUM)
        self._quota = None if receive_maximum is None else asyncio.Semaphore(receive_maximum)
        self._next_id = 0
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None

    def _start(self, packets: list[Packet]) -> None:
        self._task = self._loop.create_task(self._read(packets))
        self._arm_keepalive()

    @property
    def cause(self) -> MqttError | None:
        """Why the connection ended; None while it is open."""
        return self.closed.result() if self.closed.done() else None

    @property
    def keepalive(self) -> int:
        """The keep-alive in effect: the server's (MQTT 5 Server Keep Alive) if it set one."""
        return self._keepalive

    # ---- operations -------------------------------------------------------------------------

    async def subscribe(self, subscriptions: Iterable[tuple[str, int]]) -> tuple[int, ...]:
        """Subscribes to (topic filter, QoS) pairs; returns the granted QoS of each.

        Raises SubscribeRefused if the broker refused any filter (the others stand).
        """
        packet_id = self._new_packet_id()
        request = Subscribe(packet_id, tuple(Subscription(f, qos) for f, qos in subscriptions))
        suback = await self._request(request, packet_id)
        assert isinstance(suback, SubAck)
        codes, asked = suback.reason_codes, request.subscriptions
        if len(codes) != len(asked):
            raise MqttError(f"SUBACK has {len(codes)} codes for {len(asked)} topic filters")
        refused = [(s.topic_filter, c) for s, c in zip(asked, codes, strict=True) if c >= 0x80]
        if refused:
            text = ", ".join(f"{f!r}: {code_name(c, self.version)}" for f, c in refused)
            raise SubscribeRefused(f"subscription refused: {text}", refused[0][1], codes)
        return codes

    async def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        """QoS 0 returns once written; QoS 1 once PUBACKed (an MQTT 5 refusal raises
        PublishRefused)."""
        if qos == 0:
            self._send(Publish(topic, payload, 0, retain))
            await self._drain()
            return
        if qos != 1:
            raise ValueError(f"QoS must be 0 or 1: {qos!r}")
        if self._quota is None:
            puback = await self._publish_qos1(topic, payload, retain)
        else:
            async with self._quota:
                puback = await self._publish_qos1(topic, payload, retain)
        if puback.reason_code >= 0x80:
            name = code_name(puback.reason_code, self.version)
            raise PublishRefused(f"publish to {topic!r} refused: {name}", puback.reason_code)

    async def _publish_qos1(self, topic: str, payload: bytes, retain: bool) -> PubAck:
        packet_id = self._new_packet_id()
        puback = await self._request(
            Publish(topic, payload, 1, retain, False, packet_id), packet_id
        )
        assert isinstance(puback, PubAck)
        return puback

    async def disconnect(self) -> None:
        """Sends DISCONNECT and closes the connection; nothing if it already ended."""
        if not self.closed.done():
            with contextlib.suppress(Exception):
                self._writer.write(encode(Disconnect(), self.version))
            self._finish(ConnectionClosed("disconnected by the client"))
        await _close(self._writer, self.timeout)
        if self._task is not None:
            await asyncio.wait([self._task])

    def abort(self) -> None:
        """Drops the connection at once, without DISCONNECT, as a broken link would: the socket
        is reset, so the server sees the connection lost (and publishes the will, if any)."""
        if self.closed.done():
            return
        sock = self._writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
        self._writer.transport.abort()
        self._finish(ConnectionClosed("aborted by the client"))

    # ---- sending ----------------------------------------------------------------------------

    def _send(self, packet: Packet) -> None:
        if self.closed.done():
            raise self._closed_error()
        self._writer.write(encode(packet, self.version))
        self._last_send = self._loop.time()

    async def _drain(self) -> None:
        try:
            await self._writer.drain()
        except ConnectionError as error:
            raise self._closed_error() from error

    def _closed_error(self) -> ConnectionClosed:
        cause = self.cause
        if cause is None:
            return ConnectionClosed("connection lost")
        error = ConnectionClosed(f"connection closed: {cause}", cause.code)
        error.__cause__ = cause
        return error

    def _new_packet_id(self) -> int:
        for _ in range(0xFFFF):
            self._next_id = self._next_id % 0xFFFF + 1
            if self._next_id not in self._pending:
                return self._next_id
        raise MqttError("65535 requests are waiting for an answer")

    async def _request(self, packet: Packet, packet_id: int) -> Packet:
        """Sends `packet` and waits for the acknowledgement with its packet id."""
        waiter: asyncio.Future[Packet | None] = self._loop.create_future()
        self._send(packet)
        self._pending[packet_id] = waiter
        try:
            await self._drain()
            async with asyncio.timeout(self.timeout):
                answer = await waiter
        except TimeoutError:
            name = type(packet).__name__.upper()
            raise MqttTimeout(f"no answer to {name} within {self.timeout} s") from None
        finally:
            if self._pending.get(packet_id) is waiter:
                del self._pending[packet_id]
        if answer is None:  # the connection ended first
            raise self._closed_error()
        return answer

    def _arm_keepalive(self) -> None:
        if self._keepalive and not self.closed.done():
            due = (self._ping_sent or self._last_send) + self._keepalive
            self._timer = self._loop.call_at(due, self._on_keepalive)

    def _on_keepalive(self) -> None:
        """A PINGREQ once nothing was sent for the keep-alive; the end if its PINGRESP is late."""
        now = self._loop.time()
        if self._ping_sent is not None:
            if now - self._ping_sent >= self._keepalive:
                self._writer.transport.abort()
                self._finish(MqttTimeout(f"no PINGRESP within {self._keepalive} s"))
                return
        elif now - self._last_send >= self._keepalive - 0.01:  # timers may fire a hair early
            self._send(PingReq())
            self._ping_sent = now
        self._arm_keepalive()

    # ---- receiving --------------------------------------------------------------------------

    async def _read(self, packets: list[Packet]) -> None:
        """The reader task: every received packet, until the connection ends."""
        try:
            while True:
                for packet in packets:
                    self._handle(packet)
                received = await self._reader.read(READ_SIZE)
                if not received:
                    raise ConnectionClosed("the server closed the connection")
                packets = self._decoder.feed(received)
        except MqttError as error:
            cause = error
        except MalformedPacket as error:
            if self.version is _V5:
                with contextlib.suppress(Exception):
                    self._writer.write(encode(Disconnect(error.reason_code), _V5))
            cause = MqttError(f"the server broke the protocol: {error}", error.reason_code)
        except ConnectionError as error:
            cause = ConnectionClosed(f"connection lost: {error!r}")
        except asyncio.CancelledError:
            self._finish(ConnectionClosed("reader cancelled"))
            raise
        except Exception as error:  # from on_message
            cause = MqttError(f"on_message failed: {error!r}")
            cause.__cause__ = error
        self._finish(cause)

    def _handle(self, packet: Packet) -> None:
        match packet:
            case Publish():
                self._on_publish(packet)
            case PubAck() | SubAck():
                waiter = self._pending.pop(packet.packet_id, None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(packet)
            case PingResp():
                self._ping_sent = None
            case PubRel():
                self._send(PubComp(packet.packet_id))
            case Disconnect():
                name = code_name(packet.reason_code, self.version)
                raise ConnectionClosed(f"disconnected by the server: {name}", packet.reason_code)
            case _:
                raise MqttError(f"unexpected {type(packet).__name__} from the server")

    def _on_publish(self, packet: Publish) -> None:
        if not packet.topic:  # a topic alias, which this client never allows
            raise MqttError("PUBLISH with a topic alias", ReasonCode.TOPIC_ALIAS_INVALID)
        if self.on_message is not None:
            self.on_message(packet.topic, packet.payload)
        if packet.qos == 1:
            self._send(PubAck(packet.packet_id or 0))
        elif packet.qos == 2:
            self._send(PubRec(packet.packet_id or 0))

    def _finish(self, cause: MqttError) -> None:
        """Ends the connection once: records why, wakes every waiter, stops the reader."""
        if self.closed.done():
            return
        self.closed.set_result(cause)
        if self._timer is not None:
            self._timer.cancel()
        for waiter in self._pending.values():
            if not waiter.done():
                waiter.set_result(None)
        self._pending.clear()
        self._writer.close()  # sends what is buffered first (a DISCONNECT), unless aborted
        task = self._task
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()
