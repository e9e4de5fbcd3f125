"""otaload's gevent MQTT client against real brokers (mosquitto and otakit) and against small
fake brokers (a silent one, one that answers CONNECT only). No monkey-patching: the client uses
gevent's sockets itself, and the tests wait with gevent, never with time.sleep."""

from __future__ import annotations

import getpass
import json
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import gevent
import gevent.queue
import gevent.socket
import pytest
from otaload.gmqtt import (
    ConnectionClosed,
    ConnectRefused,
    MqttClient,
    MqttError,
    MqttTimeout,
    SubscribeRefused,
)

from otamqtt.codec import Decoder, encode
from otamqtt.packets import ConnAck, Disconnect, Packet, PingReq, ProtocolVersion, Publish
from otatarget import local, rest

LOCALHOST = "127.0.0.1"
VERSIONS = [4, 5]
Message = tuple[str, bytes]


@pytest.fixture(params=VERSIONS, ids=["3.1.1", "5"])
def version(request: pytest.FixtureRequest) -> int:
    return int(request.param)


def inbox() -> tuple[gevent.queue.Queue[Message], Callable[[str, bytes], None]]:
    queue: gevent.queue.Queue[Message] = gevent.queue.Queue()
    return queue, lambda topic, payload: queue.put((topic, payload))


def closes() -> tuple[list[Exception | None], Callable[[Exception | None], None]]:
    seen: list[Exception | None] = []
    return seen, seen.append


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        gevent.sleep(0.01)


# ---- brokers ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """mosquitto on a free port, anonymous; yields the port."""
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    directory = tmp_path_factory.mktemp("mosquitto")
    port = local.free_port()
    config = directory / "mosquitto.conf"
    config.write_text(
        f"listener {port} {LOCALHOST}\n"
        "allow_anonymous true\n"
        "persistence false\n"
        # As root mosquitto would switch to the user "mosquitto", who cannot read tmp_path.
        f"user {getpass.getuser()}\n"
    )
    log_path = directory / "mosquitto.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([binary, "-c", str(config)], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection((LOCALHOST, port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    text = log_path.read_text()
                    raise RuntimeError(f"mosquitto did not start:\n{text}") from None
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


@dataclass
class Otakit:
    host: str
    port: int
    token: str


@pytest.fixture(scope="module")
def otakit() -> Iterator[Otakit]:
    """A real otakit server and one device's access token."""
    server = local.start({}, "gmqtt")
    try:
        with rest.client(server.url, *server.tenant_admin) as http:
            device = rest.call(http, "POST", "/api/device", json={"name": "d1"})
            credentials = rest.call(http, "GET", f"/api/device/{device['id']['id']}/credentials")
        host, port = server.mqtt.rsplit(":", 1)
        yield Otakit(host, int(port), str(credentials["credentialsId"]))
    finally:
        server.stop()


@dataclass
class FakeBroker:
    """A listening socket served by a greenlet: it answers CONNECT with `connack` (or never,
    when None) and then only reads, noting what it got; `listener.close()` ends it."""

    listener: gevent.socket.socket
    connack: ConnAck | None
    received: list[Packet] = field(default_factory=list)
    reset_seen: bool = False
    stall: bool = False  # read nothing after CONNECT, so the client's writes back up
    peers: list[gevent.socket.socket] = field(default_factory=list)

    @property
    def port(self) -> int:
        return int(self.listener.getsockname()[1])

    def serve(self) -> None:
        while True:
            try:
                peer, _ = self.listener.accept()
            except OSError:
                return
            self.peers.append(peer)
            gevent.spawn(self._talk, peer)

    def _talk(self, peer: gevent.socket.socket) -> None:
        decoder = Decoder()
        try:
            while data := peer.recv(65536):
                for packet in decoder.feed(data):
                    self.received.append(packet)
                    first = len(self.received) == 1  # the CONNECT
                    if first and self.connack is not None and decoder.version is not None:
                        peer.sendall(encode(self.connack, decoder.version))
                        if self.stall:
                            gevent.sleep(60)
        except ConnectionResetError:
            self.reset_seen = True
        except OSError:
            pass

    def close(self) -> None:
        self.listener.close()
        for peer in self.peers:
            peer.close()


@pytest.fixture
def fake_broker() -> Iterator[Callable[[ConnAck | None], FakeBroker]]:
    made: list[FakeBroker] = []

    def make(connack: ConnAck | None) -> FakeBroker:
        listener = gevent.socket.socket()
        listener.bind((LOCALHOST, 0))
        listener.listen(16)
        broker = FakeBroker(listener, connack)
        if connack is not None:  # else nobody accepts: TCP connects, nothing ever answers
            gevent.spawn(broker.serve)
        made.append(broker)
        return broker

    yield make
    for broker in made:
        broker.close()


ACCEPTED = ConnAck(False, 0)


# ---- round trips --------------------------------------------------------------------------------


def test_round_trip_at_qos_0_and_1_on_mosquitto(mosquitto: int, version: int) -> None:
    queue, on_message = inbox()
    seen, on_close = closes()
    topic = f"gmqtt/{uuid.uuid4().hex}"
    subscriber = MqttClient(
        LOCALHOST, mosquitto, client_id=f"sub-{version}", version=version, on_message=on_message
    )
    subscriber.on_close = on_close
    assert subscriber.closed
    subscriber.connect()
    assert not subscriber.closed
    assert subscriber.subscribe([(topic, 1)]) == (1,)
    publisher = MqttClient(
        LOCALHOST,
        mosquitto,
        client_id=f"pub-{version}",
        version=version,
        source_address=(LOCALHOST, 0),
    )
    publisher.connect()
    publisher.publish(topic, b"at most once", qos=0)
    publisher.publish(topic, b"at least once", qos=1)
    subscriber.publish(topic, b"to itself")
    got = [queue.get(timeout=5) for _ in range(3)]
    assert got == [(topic, b"at most once"), (topic, b"at least once"), (topic, b"to itself")]
    publisher.disconnect()
    subscriber.disconnect()
    subscriber.disconnect()  # again: nothing
    assert subscriber.closed and publisher.closed
    assert seen == [None]  # once, and None: this client ended it
    with pytest.raises(ConnectionClosed):
        subscriber.publish(topic, b"after the end")


def test_round_trip_on_otakit(otakit: Otakit, version: int) -> None:
    """An attribute request answered on the response topic, telemetry at both QoS, and a topic
    filter that otakit refuses with its code."""
    queue, on_message = inbox()
    client = MqttClient(
        otakit.host,
        otakit.port,
        client_id=f"d1-{version}",
        username=otakit.token,
        version=version,
        on_message=on_message,
    )
    client.connect()
    assert client.subscribe([("v1/devices/me/attributes/response/+", 1)]) == (1,)
    client.publish("v1/devices/me/attributes/request/1", json.dumps({"sharedKeys": "x"}).encode())
    topic, payload = queue.get(timeout=5)
    assert topic == "v1/devices/me/attributes/response/1"
    assert isinstance(json.loads(payload), dict)
    client.publish("v1/devices/me/telemetry", b'{"t": 1}', qos=0)
    client.publish("v1/devices/me/telemetry", b'{"t": 2}', qos=1)
    with pytest.raises(SubscribeRefused) as refused:
        client.subscribe([("v1/devices/me/attributes", 1), ("not/a/device/topic", 1)])
    assert refused.value.code == (0x80 if version == 4 else 0x8F)
    assert refused.value.codes == (1, refused.value.code)
    assert not client.closed
    client.disconnect()


def test_otakit_refuses_a_wrong_token(otakit: Otakit, version: int) -> None:
    seen, on_close = closes()
    client = MqttClient(
        otakit.host, otakit.port, client_id="x", username="wrong-token", version=version
    )
    client.on_close = on_close
    with pytest.raises(ConnectRefused) as refused:
        client.connect()
    assert refused.value.code == (5 if version == 4 else 0x87)  # not authorized
    assert client.closed and seen == []  # on_close is for connections that were made


# ---- the end of a connection --------------------------------------------------------------------


def test_abort_resets_and_wakes_waiters(
    fake_broker: Callable[[ConnAck | None], FakeBroker], version: int
) -> None:
    """A broker that never PUBACKs: abort() wakes the publisher at once, and the broker sees a
    reset, not a close."""
    broker = fake_broker(ACCEPTED)
    seen, on_close = closes()
    client = MqttClient(LOCALHOST, broker.port, client_id="a", version=version, timeout=30)
    client.on_close = on_close
    client.connect()
    publisher = gevent.spawn(client.publish, "t", b"never acknowledged", 1)
    wait_for(lambda: any(isinstance(p, Publish) for p in broker.received))
    started = time.monotonic()
    client.abort()
    with pytest.raises(ConnectionClosed, match="aborted by the client"):
        publisher.get(timeout=5)
    assert time.monotonic() - started < 1
    assert client.closed
    assert len(seen) == 1 and isinstance(seen[0], ConnectionClosed)
    wait_for(lambda: broker.reset_seen)
    client.abort()
    client.disconnect()  # both nothing now
    assert len(seen) == 1


def test_the_broker_going_away_wakes_waiters(
    fake_broker: Callable[[ConnAck | None], FakeBroker],
) -> None:
    broker = fake_broker(ACCEPTED)
    seen, on_close = closes()
    client = MqttClient(LOCALHOST, broker.port, client_id="g", version=5, timeout=30)
    client.on_close = on_close
    client.connect()
    subscriber = gevent.spawn(client.subscribe, [("t", 1)])
    wait_for(lambda: len(broker.received) == 2)
    broker.close()
    with pytest.raises(ConnectionClosed):
        subscriber.get(timeout=5)
    assert client.closed and len(seen) == 1 and isinstance(seen[0], ConnectionClosed)


def test_a_server_disconnect_gives_its_reason(
    fake_broker: Callable[[ConnAck | None], FakeBroker],
) -> None:
    broker = fake_broker(ACCEPTED)
    seen, on_close = closes()
    client = MqttClient(LOCALHOST, broker.port, client_id="s", version=5)
    client.on_close = on_close
    client.connect()
    wait_for(lambda: len(broker.peers) == 1)
    broker.peers[0].sendall(encode(Disconnect(0x8E), ProtocolVersion.V5))  # session taken over
    wait_for(lambda: client.closed)
    assert len(seen) == 1 and isinstance(seen[0], ConnectionClosed) and seen[0].code == 0x8E


# ---- keep-alive and timeouts --------------------------------------------------------------------


def test_keepalive_keeps_an_idle_connection(mosquitto: int, version: int) -> None:
    """mosquitto drops a client silent for 1.5 keep-alives: at 1 s, PINGREQs must go out."""
    queue, on_message = inbox()
    client = MqttClient(
        LOCALHOST,
        mosquitto,
        client_id=f"k-{version}",
        version=version,
        keepalive=1,
        on_message=on_message,
    )
    client.connect()
    gevent.sleep(3.2)
    assert not client.closed, client.cause
    client.subscribe([("gmqtt/keepalive", 1)])
    client.publish("gmqtt/keepalive", b"still here")
    assert queue.get(timeout=5) == ("gmqtt/keepalive", b"still here")
    client.disconnect()


def test_a_missing_pingresp_ends_the_connection(
    fake_broker: Callable[[ConnAck | None], FakeBroker],
) -> None:
    broker = fake_broker(ACCEPTED)
    seen, on_close = closes()
    client = MqttClient(LOCALHOST, broker.port, client_id="p", keepalive=1, timeout=0.5)
    client.on_close = on_close
    client.connect()
    wait_for(lambda: client.closed, timeout=3)
    assert isinstance(client.cause, MqttTimeout) and "PINGRESP" in str(client.cause)
    assert seen == [client.cause]
    assert sum(isinstance(p, PingReq) for p in broker.received) >= 1


def test_a_silent_broker_times_out(fake_broker: Callable[[ConnAck | None], FakeBroker]) -> None:
    broker = fake_broker(None)  # listens, never accepts: TCP connects, nobody answers
    client = MqttClient(LOCALHOST, broker.port, client_id="t", timeout=0.5)
    started = time.monotonic()
    with pytest.raises(MqttTimeout):
        client.connect()
    assert 0.4 < time.monotonic() - started < 2
    assert client.closed


def test_a_closed_port_is_a_connection_error() -> None:
    client = MqttClient(LOCALHOST, local.free_port(), client_id="c", timeout=2)
    with pytest.raises(ConnectionClosed, match="cannot connect"):
        client.connect()


def test_an_unanswered_publish_times_out(
    fake_broker: Callable[[ConnAck | None], FakeBroker],
) -> None:
    broker = fake_broker(ACCEPTED)
    client = MqttClient(LOCALHOST, broker.port, client_id="u", timeout=0.3)
    client.connect()
    with pytest.raises(MqttTimeout, match="PUBLISH"):
        client.publish("t", b"x")
    assert not client.closed  # a missing answer is no broken connection
    client.disconnect()


def test_a_stalled_write_ends_the_connection(
    fake_broker: Callable[[ConnAck | None], FakeBroker],
) -> None:
    """A broker that stops reading: the write cannot finish in time, and half a packet may be
    on the wire, so the connection ends."""
    broker = fake_broker(ACCEPTED)
    broker.stall = True
    client = MqttClient(LOCALHOST, broker.port, client_id="w", timeout=0.5)
    client.connect()
    with pytest.raises(ConnectionClosed, match="stalled"):
        client.publish("t", bytes(32 * 1024 * 1024), qos=0)
    assert client.closed and isinstance(client.cause, MqttTimeout)


# ---- many greenlets -----------------------------------------------------------------------------


def test_200_clients_in_greenlets(mosquitto: int) -> None:
    """200 devices in one process, each in its greenlet: connect, subscribe, and hear the
    message each published to its own topic."""

    def device(number: int) -> Message:
        queue, on_message = inbox()
        topic = f"gmqtt/many/{number}"
        client = MqttClient(
            LOCALHOST,
            mosquitto,
            client_id=f"many-{number}",
            version=VERSIONS[number % 2],
            on_message=on_message,
        )
        client.connect()
        client.subscribe([(topic, 1)])
        client.publish(topic, str(number).encode(), qos=number % 2)
        message: Message = queue.get(timeout=10)
        client.disconnect()
        return message

    greenlets = [gevent.spawn(device, n) for n in range(200)]
    gevent.joinall(greenlets, timeout=20, raise_error=True)
    assert [g.get(block=False) for g in greenlets] == [
        (f"gmqtt/many/{n}", str(n).encode()) for n in range(200)
    ]


def test_writes_from_many_greenlets_do_not_interleave(mosquitto: int, version: int) -> None:
    """Large publishes from 20 greenlets on one connection: each one arrives whole."""
    queue, on_message = inbox()
    topic = f"gmqtt/big/{version}"
    client = MqttClient(
        LOCALHOST, mosquitto, client_id=f"big-{version}", version=version, on_message=on_message
    )
    client.connect()
    client.subscribe([(topic, 0)])
    payloads = [bytes([n]) * (256 * 1024 + n) for n in range(20)]
    greenlets = [gevent.spawn(client.publish, topic, p, n % 2) for n, p in enumerate(payloads)]
    gevent.joinall(greenlets, timeout=20, raise_error=True)
    got = sorted((queue.get(timeout=10) for _ in payloads), key=lambda m: len(m[1]))
    assert [payload for _, payload in got] == payloads
    client.disconnect()


def test_on_message_raising_ends_the_connection(mosquitto: int) -> None:
    def explode(topic: str, payload: bytes) -> None:
        raise RuntimeError("boom")

    client = MqttClient(LOCALHOST, mosquitto, client_id="boom", on_message=explode)
    client.connect()
    client.subscribe([("gmqtt/boom", 0)])
    client.publish("gmqtt/boom", b"x", qos=0)
    wait_for(lambda: client.closed)
    assert type(client.cause) is MqttError and "boom" in str(client.cause)
    client.connect()  # a client may connect again after the end
    assert not client.closed
    client.disconnect()


def test_a_closed_client_cannot_be_used() -> None:
    client = MqttClient(LOCALHOST, 1, client_id="n")
    with pytest.raises(ConnectionClosed, match="not connected"):
        client.publish("t", b"x")
    client.disconnect()
    client.abort()
