"""A blocking MQTT 3.1.1 / 5 client on gevent and otamqtt's codec: one per Locust user (device).

Each Locust user is a greenlet, so each connection is one gevent socket and one reader greenlet,
and no thread. The reader greenlet also keeps the connection alive: its wait for bytes is bounded
by the next keep-alive deadline, after which it sends PINGREQ, so an idle connection costs that
one timer, and no second greenlet and no queue. Calls block the calling greenlet only.

Every packet is encoded whole and written with sendall under a per-connection gevent semaphore,
so the packets of the caller, the reader (PUBACK, PINGREQ) and another greenlet never interleave
(gevent may split a sendall into several writes and switch in between). Every wait (connect,
CONNACK, the lock, a write, SUBACK, PUBACK, PINGRESP) is bounded by `timeout`; when the
connection ends, every waiter wakes at once with ConnectionClosed.

The module uses gevent.socket explicitly, so it works both under Locust's monkey-patching and in
plain tests.

Cost, measured against mosquitto (CPython 3.11, gevent 26, greenlet 3.2; 2 000 and 10 000 idle
connections in one process): about 12 KB of resident memory per connection (10 000 connections
added 116 MB), the kernel's socket buffers not counted. Of it, tracemalloc sees about 3 KB of the
reader greenlet's saved stack, 1 KB of Greenlet, 0.6 KB for the pending keep-alive Timeout, and
the socket, the decoder and this object; the rest is gevent's C watchers and allocator overhead.
A keep-alive round trip (PINGREQ, PINGRESP, the timers) took about 160 us of CPU, so 10 000
devices at keepalive 60 s cost under 3 % of a core.

QoS 0 and 1 on the way out; an incoming QoS 2 message is answered as the protocol says but
delivered on arrival, so it may be delivered twice. MQTT 5 topic aliases from the server are
resolved, although the client never invites them.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import time
from collections.abc import Callable, Iterable

import gevent
import gevent.event
import gevent.lock
import gevent.socket

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
)
from otamqtt.properties import PropertyId

__all__ = [
    "CloseHandler",
    "ConnectRefused",
    "ConnectionClosed",
    "MessageHandler",
    "MqttClient",
    "MqttError",
    "MqttTimeout",
    "PublishRefused",
    "SubscribeRefused",
]

MessageHandler = Callable[[str, bytes], None]
CloseHandler = Callable[[Exception | None], None]
READ_SIZE = 64 * 1024
_V5 = ProtocolVersion.V5
# libev's cached loop time lets a timer fire a hair before time.monotonic() says it is due.
_EARLY = 0.005


class MqttClient:
    """One device's MQTT connection, driven from greenlets.

    `on_message(topic, payload)` runs in the reader greenlet for each incoming PUBLISH, before
    its PUBACK; it should not block for long (the reader also sends the keep-alive), and should
    it raise, the connection ends. `on_close(cause)` is called once when a connection made by
    connect() ends: with None after disconnect(), else with the MqttError that ended it (a
    ConnectionClosed for abort(), a peer's close, a reset or a server's DISCONNECT; an MqttTimeout
    for a missing PINGRESP or a stalled write; a plain MqttError for a broken protocol). A failed
    connect() raises instead. After the end, connect() may be called again.
    """

    __slots__ = (
        "_cause",
        "_last_send",
        "_lock",
        "_next_id",
        "_pending",
        "_ping_sent",
        "_quota",
        "_sock",
        "_topic_aliases",
        "client_id",
        "connack",
        "host",
        "keepalive",
        "on_close",
        "on_message",
        "password",
        "port",
        "source_address",
        "timeout",
        "username",
        "version",
    )

    def __init__(
        self,
        host: str,
        port: int,
        *,
        client_id: str,
        username: str | None = None,
        password: str | None = None,
        version: int = 4,
        keepalive: int = 60,
        timeout: float = 10.0,
        on_message: MessageHandler | None = None,
        source_address: tuple[str, int] | None = None,
    ) -> None:
        """`version` is 4 (MQTT 3.1.1) or 5; `keepalive` 0 sends no PINGREQ."""
        self.host, self.port = host, port
        self.client_id, self.username, self.password = client_id, username, password
        self.version = ProtocolVersion(version)
        self.keepalive = keepalive  # the server's Server Keep Alive replaces it on connect
        self.timeout = timeout
        self.on_message = on_message
        self.on_close: CloseHandler | None = None
        self.source_address = source_address
        self.connack: ConnAck | None = None
        # Annotated as the stdlib's socket: gevent has no type hints, and its socket has the
        # same interface.
        self._sock: socket.socket | None = None
        self._cause: MqttError | None = None
        self._lock = gevent.lock.Semaphore()
        self._pending: dict[int, gevent.event.AsyncResult[Packet | None]] = {}
        self._quota: gevent.lock.BoundedSemaphore | None = None
        self._topic_aliases: dict[int, str] | None = None
        self._next_id = 0
        self._last_send = 0.0
        self._ping_sent: float | None = None  # when the oldest unanswered PINGREQ went out

    @property
    def closed(self) -> bool:
        """True until connect() succeeds, and again once the connection ended."""
        return self._sock is None

    @property
    def cause(self) -> MqttError | None:
        """Why the last connection ended (None after disconnect() or while open)."""
        return self._cause

    # ---- connecting -------------------------------------------------------------------------

    def connect(self) -> None:
        """Opens TCP (TCP_NODELAY, bound to source_address if given), sends CONNECT and waits
        for CONNACK, all within `timeout`.

        Raises ConnectRefused with the broker's code, MqttTimeout, ConnectionClosed when TCP
        fails or the broker closes, MqttError for a broken answer.
        """
        if self._sock is not None:
            raise MqttError("already connected")
        where = f"{self.host}:{self.port}"
        password = None if self.password is None else self.password.encode()
        request = Connect(
            self.client_id, self.version, True, self.keepalive, self.username, password
        )
        data = encode(request, self.version)  # a ValueError here, before any I/O
        decoder = Decoder(version=self.version, server_side=False)
        sock: socket.socket | None = None
        timer = gevent.Timeout.start_new(self.timeout)
        try:
            sock = gevent.socket.create_connection(
                (self.host, self.port), self.timeout, self.source_address
            )
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(None)  # waits are bounded by gevent timeouts, not the socket's
            sock.sendall(data)
            packets: list[Packet] = []
            while not packets:
                received = sock.recv(READ_SIZE)
                if not received:
                    raise ConnectionClosed(f"{where} closed the connection before CONNACK")
                packets = decoder.feed(received)
            connack = packets[0]
            if not isinstance(connack, ConnAck):
                raise MqttError(f"{where} answered CONNECT with {type(connack).__name__}")
            if connack.reason_code:
                name = code_name(connack.reason_code, self.version, connack=True)
                raise ConnectRefused(f"connection refused: {name}", connack.reason_code)
        except BaseException as error:
            if sock is not None:
                sock.close()
            if error is timer:
                raise MqttTimeout(f"no CONNACK from {where} within {self.timeout} s") from None
            if isinstance(error, OSError):
                raise ConnectionClosed(f"cannot connect to {where}: {error}") from error
            if isinstance(error, MalformedPacket):
                raise MqttError(f"malformed answer from {where}: {error}") from error
            raise
        finally:
            timer.close()
        self._open(sock, decoder, connack, packets[1:])

    def _open(
        self, sock: socket.socket, decoder: Decoder, connack: ConnAck, rest: list[Packet]
    ) -> None:
        self._sock, self.connack = sock, connack
        self._cause = None
        self._pending.clear()
        self._topic_aliases = None
        self._ping_sent = None
        self._last_send = time.monotonic()  # the CONNECT
        server_keepalive = connack.properties.get_int(PropertyId.SERVER_KEEP_ALIVE)
        if server_keepalive is not None:
            self.keepalive = server_keepalive
        # MQTT 5: how many of our QoS 1 publishes may await PUBACK at once (spec 3.2.2.3.3).
        receive_maximum = connack.properties.get_int(PropertyId.RECEIVE_MAXIMUM)
        self._quota = None
        if receive_maximum is not None:
            self._quota = gevent.lock.BoundedSemaphore(receive_maximum)
        gevent.spawn(self._read, sock, decoder, rest)

    # ---- operations -------------------------------------------------------------------------

    def subscribe(self, topics: Iterable[tuple[str, int]]) -> tuple[int, ...]:
        """Subscribes to (topic filter, QoS) pairs and waits for SUBACK; returns the granted
        QoS of each. Raises SubscribeRefused if the broker refused any filter (the others
        stand)."""
        packet_id = self._new_packet_id()
        request = Subscribe(packet_id, tuple(Subscription(f, qos) for f, qos in topics))
        suback = self._request(request, packet_id, time.monotonic() + self.timeout)
        assert isinstance(suback, SubAck)
        codes, asked = suback.reason_codes, request.subscriptions
        if len(codes) != len(asked):
            raise MqttError(f"SUBACK has {len(codes)} codes for {len(asked)} topic filters")
        refused = [(s.topic_filter, c) for s, c in zip(asked, codes, strict=True) if c >= 0x80]
        if refused:
            text = ", ".join(f"{f!r}: {code_name(c, self.version)}" for f, c in refused)
            raise SubscribeRefused(f"subscription refused: {text}", refused[0][1], codes)
        return codes

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        """QoS 0 returns once written; QoS 1 once PUBACKed (an MQTT 5 refusal raises
        PublishRefused)."""
        deadline = time.monotonic() + self.timeout
        if qos == 0:
            self._send(Publish(topic, payload, 0, retain), deadline)
            return
        if qos != 1:
            raise ValueError(f"QoS must be 0 or 1: {qos!r}")
        quota = self._quota
        if quota is not None and not quota.acquire(timeout=self.timeout):
            raise MqttTimeout(f"Receive Maximum reached for {self.timeout} s")
        try:
            packet_id = self._new_packet_id()
            request = Publish(topic, payload, 1, retain, False, packet_id)
            puback = self._request(request, packet_id, deadline)
        finally:
            if quota is not None:
                quota.release()
        assert isinstance(puback, PubAck)
        if puback.reason_code >= 0x80:
            name = code_name(puback.reason_code, self.version)
            raise PublishRefused(f"publish to {topic!r} refused: {name}", puback.reason_code)

    def disconnect(self) -> None:
        """Sends DISCONNECT and closes; never raises, nothing if not connected."""
        sock = self._sock
        if sock is None:
            return
        with contextlib.suppress(MqttError):
            self._send(Disconnect(), time.monotonic() + self.timeout)
        self._finish(sock, None)

    def abort(self) -> None:
        """Drops the connection at once, without DISCONNECT, as a broken link would: the socket
        is reset (SO_LINGER 0), so the server sees the connection lost."""
        sock = self._sock
        if sock is None:
            return
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
        self._finish(sock, ConnectionClosed("aborted by the client"))

    # ---- sending ----------------------------------------------------------------------------

    def _send(self, packet: Packet, deadline: float) -> None:
        """Writes one whole packet under the lock, by `deadline`. A write cut short (by the
        deadline, a caller's gevent.Timeout, a kill) may leave half a packet on the wire, so it
        ends the connection."""
        sock = self._sock
        if sock is None:
            raise self._closed_error()
        data = encode(packet, self.version)
        timer = gevent.Timeout.start_new(max(deadline - time.monotonic(), 0.0))
        writing = False
        try:
            with self._lock:
                if self._sock is not sock:  # ended while this waited for the lock
                    raise self._closed_error()
                writing = True
                sock.sendall(data)
                writing = False
                self._last_send = time.monotonic()
        except OSError as error:
            self._finish(sock, ConnectionClosed(f"connection lost: {error!r}"))
            raise self._closed_error() from error
        except BaseException as error:
            name = type(packet).__name__.upper()
            if writing:
                if error is timer:
                    cause: MqttError = MqttTimeout(f"sending {name} stalled for {self.timeout} s")
                else:
                    cause = ConnectionClosed(f"sending {name} was interrupted: {error!r}")
                self._finish(sock, cause)
            if error is timer:
                if writing:
                    raise self._closed_error() from None
                raise MqttTimeout(f"could not send {name} within {self.timeout} s") from None
            raise
        finally:
            timer.close()

    def _closed_error(self) -> ConnectionClosed:
        cause = self._cause
        if cause is None:
            return ConnectionClosed("not connected")
        error = ConnectionClosed(f"connection closed: {cause}", cause.code)
        error.__cause__ = cause
        return error

    def _new_packet_id(self) -> int:
        for _ in range(0xFFFF):
            self._next_id = self._next_id % 0xFFFF + 1
            if self._next_id not in self._pending:
                return self._next_id
        raise MqttError("65535 requests are waiting for an answer")

    def _request(self, packet: Packet, packet_id: int, deadline: float) -> Packet:
        """Sends `packet` and waits, until `deadline`, for the acknowledgement with its id."""
        waiter: gevent.event.AsyncResult[Packet | None] = gevent.event.AsyncResult()
        self._pending[packet_id] = waiter  # before sending: the answer may come at once
        try:
            self._send(packet, deadline)
            # wait() returns None on its timeout, and never mistakes a caller's gevent.Timeout
            # for its own.
            answer: Packet | None = waiter.wait(max(deadline - time.monotonic(), 0.0))
        finally:
            if self._pending.get(packet_id) is waiter:
                del self._pending[packet_id]
        if not waiter.ready():
            name = type(packet).__name__.upper()
            raise MqttTimeout(f"no answer to {name} within {self.timeout} s")
        if answer is None:  # the connection ended first
            raise self._closed_error()
        return answer

    # ---- receiving --------------------------------------------------------------------------

    def _read(self, sock: socket.socket, decoder: Decoder, packets: list[Packet]) -> None:
        """The reader greenlet: every received packet, and the keep-alive, until the end."""
        cause: MqttError
        try:
            while True:
                for packet in packets:
                    self._handle(packet)
                received = self._receive(sock)
                if not received:
                    raise ConnectionClosed("the server closed the connection")
                packets = decoder.feed(received)
        except MqttError as error:
            cause = error
        except MalformedPacket as error:
            if self.version is _V5:
                with contextlib.suppress(MqttError):
                    self._send(Disconnect(error.reason_code), time.monotonic() + self.timeout)
            cause = MqttError(f"the server broke the protocol: {error}", error.reason_code)
        except OSError as error:
            cause = ConnectionClosed(f"connection lost: {error!r}")
        except Exception as error:  # from on_message
            cause = MqttError(f"on_message failed: {error!r}")
            cause.__cause__ = error
        except BaseException as error:  # a kill, or a gevent.Timeout escaping on_message
            self._finish(sock, ConnectionClosed(f"the reader ended: {error!r}"))
            raise
        self._finish(sock, cause)

    def _receive(self, sock: socket.socket) -> bytes:
        """The next bytes, sending PINGREQ whenever nothing was sent for the keep-alive."""
        while True:
            if not self.keepalive:
                return sock.recv(READ_SIZE)
            now = time.monotonic()
            due = self._last_send + self.keepalive
            if self._ping_sent is not None:
                if now >= self._ping_sent + self.timeout - _EARLY:
                    raise MqttTimeout(f"no PINGRESP within {self.timeout} s")
                due = min(due, self._ping_sent + self.timeout)
            if due - now > _EARLY:
                timer = gevent.Timeout.start_new(due - now)
                try:
                    return sock.recv(READ_SIZE)
                except gevent.Timeout as error:
                    if error is not timer:
                        raise
                finally:
                    timer.close()
            elif now >= self._last_send + self.keepalive - _EARLY:
                if self._lock.locked():
                    # A write is under way and counts as activity; were it stalled, its own
                    # deadline ends the connection.
                    self._last_send = now
                    continue
                # Again even when one is unanswered: the server needs a packet each keep-alive.
                self._send(PingReq(), now + self.timeout)
                if self._ping_sent is None:
                    self._ping_sent = now

    def _handle(self, packet: Packet) -> None:
        match packet:
            case Publish():
                self._on_publish(packet)
            case PubAck() | SubAck():
                waiter = self._pending.pop(packet.packet_id, None)
                if waiter is not None and not waiter.ready():
                    waiter.set(packet)
            case PingResp():
                self._ping_sent = None
            case PubRel():
                self._send(PubComp(packet.packet_id), time.monotonic() + self.timeout)
            case Disconnect():
                name = code_name(packet.reason_code, self.version)
                raise ConnectionClosed(f"disconnected by the server: {name}", packet.reason_code)
            case _:
                raise MqttError(f"unexpected {type(packet).__name__} from the server")

    def _on_publish(self, packet: Publish) -> None:
        topic = packet.topic
        alias = packet.properties.get_int(PropertyId.TOPIC_ALIAS)
        if alias is not None:
            if self._topic_aliases is None:
                self._topic_aliases = {}
            if topic:
                self._topic_aliases[alias] = topic
            else:
                topic = self._topic_aliases.get(alias, "")
        if not topic:
            raise MqttError("PUBLISH with an unknown topic alias", ReasonCode.TOPIC_ALIAS_INVALID)
        if self.on_message is not None:
            self.on_message(topic, packet.payload)
        deadline = time.monotonic() + self.timeout
        if packet.qos == 1:
            self._send(PubAck(packet.packet_id or 0), deadline)
        elif packet.qos == 2:
            self._send(PubRec(packet.packet_id or 0), deadline)

    def _finish(self, sock: socket.socket, cause: MqttError | None) -> None:
        """Ends the connection on `sock` once: records why, wakes every waiter, closes the
        socket (which wakes the reader with an error), and tells on_close."""
        if self._sock is not sock:  # already ended (or a later connection's)
            return
        self._sock = None
        self._cause = cause
        pending = list(self._pending.values())
        self._pending.clear()
        for waiter in pending:
            if not waiter.ready():
                waiter.set(None)
        # Wakes the reader blocked in recv with an OSError; not killed, so that an on_message
        # in progress finishes.
        sock.close()
        handler = self.on_close
        if handler is not None:
            try:
                handler(cause)
            except Exception:
                # Reported as an unhandled greenlet error is, without failing the caller: the
                # connection has ended whatever the handler does.
                gevent.get_hub().handle_error(self, *sys.exc_info())
