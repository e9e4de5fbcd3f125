"""otasim's MQTT client against real brokers: mosquitto, and an otakit server with its demo data."""

from __future__ import annotations

import asyncio
import gc
import getpass
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import tracemalloc
import uuid
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from otasim.mqtt_client import (
    ConnectionClosed,
    ConnectRefused,
    MqttClient,
    MqttTimeout,
    PublishRefused,
    SubscribeRefused,
    connect,
)

from otamqtt.codec import Decoder, encode
from otamqtt.packets import ConnAck, ProtocolVersion, PubAck, Publish, Will
from otamqtt.properties import Properties, PropertyId
from tests.support.api import Api
from tests.support.process import ServerProcess, free_port, start_server

VERSIONS = [4, 5]
USER, PASSWORD = "sim", "sim-password"
TOKEN = "demo-token-t1"  # otakit --demo's device "Thermostat T1"
LOCALHOST = "127.0.0.1"
Message = tuple[str, bytes]


def run(coroutine: Coroutine[Any, Any, None]) -> None:
    asyncio.run(coroutine)


@pytest.fixture(params=VERSIONS, ids=["3.1.1", "5"])
def version(request: pytest.FixtureRequest) -> int:
    return int(request.param)


# ---- a mosquitto of the tests' own --------------------------------------------------------------


@dataclass
class Broker:
    port: int
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)  # in case a test left it stopped
            self.process.terminate()
            self.process.wait(timeout=10)


def start_mosquitto(directory: Path, more_config: str = "") -> Broker:
    """mosquitto on a free port: user USER only, and one QoS 1 message in flight each way (so
    that a client that does not PUBACK stalls; MQTT 5 clients hear it as Receive Maximum 1)."""
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not os.path.exists(mosquitto) or not shutil.which("mosquitto_passwd"):
        pytest.fail("mosquitto is not installed (scripts/test.sh installs it)")
    directory.mkdir(parents=True, exist_ok=True)
    passwords = directory / "passwords"
    passwords.touch()
    subprocess.run(["mosquitto_passwd", "-b", str(passwords), USER, PASSWORD], check=True)
    port = free_port()
    config = directory / "mosquitto.conf"
    config.write_text(
        f"listener {port} {LOCALHOST}\n"
        # As root mosquitto would switch to the user "mosquitto", who cannot read tmp_path.
        f"user {getpass.getuser()}\n"
        "allow_anonymous false\n"
        f"password_file {passwords}\n"
        "persistence false\n"
        "max_inflight_messages 1\n" + more_config
    )
    with (directory / "mosquitto.log").open("wb") as log:
        process = subprocess.Popen([mosquitto, "-c", str(config)], stdout=log, stderr=log)
    broker = Broker(port, process)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection((LOCALHOST, port), timeout=1).close()
            return broker
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                broker.stop()
                log_text = (directory / "mosquitto.log").read_text()
                raise RuntimeError(f"mosquitto did not start:\n{log_text}") from None
            time.sleep(0.05)


@pytest.fixture(scope="module")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    broker = start_mosquitto(tmp_path_factory.mktemp("mosquitto"))
    yield broker
    broker.stop()


@pytest.fixture
def own_mosquitto(tmp_path: Path) -> Iterator[Broker]:
    """For a test that stops or kills its broker."""
    broker = start_mosquitto(tmp_path)
    yield broker
    broker.stop()


def inbox() -> tuple[asyncio.Queue[Message], Callable[[str, bytes], None]]:
    queue: asyncio.Queue[Message] = asyncio.Queue()
    return queue, lambda topic, payload: queue.put_nowait((topic, payload))


async def sim_client(
    broker: Broker, version: int, on_message: Callable[[str, bytes], None] | None = None, **kw: Any
) -> MqttClient:
    client_id = f"sim-{uuid.uuid4().hex[:8]}"
    return await connect(
        LOCALHOST,
        broker.port,
        client_id=client_id,
        username=USER,
        password=PASSWORD,
        version=version,
        on_message=on_message,
        **kw,
    )


async def next_message(queue: asyncio.Queue[Message], timeout: float = 5) -> Message:
    async with asyncio.timeout(timeout):
        return await queue.get()


def test_round_trip_at_qos_0_and_1(mosquitto: Broker, version: int) -> None:
    async def main() -> None:
        queue, on_message = inbox()
        client = await sim_client(mosquitto, version, on_message)
        assert client.connack.reason_code == 0
        sock = client._writer.get_extra_info("socket")
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        base = f"test/{uuid.uuid4().hex}"
        assert await client.subscribe([(f"{base}/one/#", 1), (f"{base}/zero", 0)]) == (1, 0)
        # mosquitto sends the next QoS 1 message only once the last one is PUBACKed.
        for i in range(3):
            await client.publish(f"{base}/one/{i}", b"qos1-%d" % i, qos=1)
        await client.publish(f"{base}/zero", b"\x00qos0\xff", qos=0)
        received = [await next_message(queue) for _ in range(4)]
        assert sorted(received) == sorted(
            [(f"{base}/one/{i}", b"qos1-%d" % i) for i in range(3)]
            + [(f"{base}/zero", b"\x00qos0\xff")]
        )
        assert not client.closed.done()
        await client.disconnect()
        assert isinstance(client.cause, ConnectionClosed)
        assert client._task is not None and client._task.done()

    run(main())


@pytest.mark.parametrize("password", ["wrong", None])
def test_bad_credentials_are_refused_with_the_code(
    mosquitto: Broker, version: int, password: str | None
) -> None:
    async def main() -> None:
        with pytest.raises(ConnectRefused) as refused:
            await connect(
                LOCALHOST,
                mosquitto.port,
                client_id="refused",
                username=USER if password else None,
                password=password,
                version=version,
            )
        # mosquitto answers both with "not authorized": 3.1.1's return code 5, MQTT 5's 0x87.
        assert refused.value.code == (5 if version == 4 else 0x87)
        assert "NOT_AUTHORIZED" in str(refused.value)

    run(main())


def test_keepalive_pings_keep_an_idle_connection(mosquitto: Broker, version: int) -> None:
    async def main() -> None:
        queue, on_message = inbox()
        client = await sim_client(mosquitto, version, on_message, keepalive=1)
        topic = f"test/{uuid.uuid4().hex}"
        await client.subscribe([(topic, 1)])
        # mosquitto drops a client silent for 1.5 keep-alives.
        done, _ = await asyncio.wait([client.closed], timeout=3.5)
        assert not done, client.cause
        await client.publish(topic, b"still here")
        assert await next_message(queue) == (topic, b"still here")
        await client.disconnect()

    run(main())


def test_the_server_keepalive_wins(tmp_path: Path) -> None:
    broker = start_mosquitto(tmp_path, "max_keepalive 10\n")  # mosquitto's least

    async def main() -> None:
        client = await sim_client(broker, 5, keepalive=60)
        assert client.keepalive == 10
        await client.disconnect()

    try:
        run(main())
    finally:
        broker.stop()


def test_concurrent_publishes_go_through(mosquitto: Broker, version: int) -> None:
    async def main() -> None:
        queue, on_message = inbox()
        client = await sim_client(mosquitto, version, on_message)
        topic = f"test/{uuid.uuid4().hex}"
        await client.subscribe([(topic, 1)])
        await asyncio.gather(*(client.publish(topic, b"%d" % i) for i in range(5)))
        assert sorted([(await next_message(queue))[1] for _ in range(5)]) == [
            b"%d" % i for i in range(5)
        ]
        await client.disconnect()

    run(main())


def test_publishes_in_flight_stay_within_receive_maximum() -> None:
    """A broker of a few lines that allows 2 unacknowledged QoS 1 publishes (no broker at hand
    makes a client keep to its Receive Maximum: mosquitto queues the excess)."""
    in_flight: list[int] = []  # unacknowledged publishes, as each one arrives

    async def broker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            decoder = Decoder()
            while not decoder.feed(await reader.read(4096)):
                pass
            properties = Properties({PropertyId.RECEIVE_MAXIMUM: 2})
            writer.write(encode(ConnAck(False, 0, properties), ProtocolVersion.V5))
            while data := await reader.read(4096):
                unacked = [p.packet_id or 0 for p in decoder.feed(data) if isinstance(p, Publish)]
                in_flight.extend(range(1, len(unacked) + 1))
                await asyncio.sleep(0.05)  # more would come now if the client did not wait
                for packet_id in unacked:
                    writer.write(encode(PubAck(packet_id), ProtocolVersion.V5))
        finally:
            writer.close()
            finished.set()

    finished = asyncio.Event()

    async def main() -> None:
        async with await asyncio.start_server(broker, LOCALHOST, 0) as server:
            port = server.sockets[0].getsockname()[1]
            client = await connect(LOCALHOST, port, client_id="c", username="u", version=5)
            try:
                await asyncio.gather(*(client.publish("t", b"%d" % i) for i in range(6)))
            finally:
                await client.disconnect()
                await finished.wait()
        assert len(in_flight) == 6
        assert max(in_flight) == 2

    run(main())


def test_a_missing_pingresp_ends_the_connection(own_mosquitto: Broker) -> None:
    async def main() -> None:
        client = await sim_client(own_mosquitto, 5, keepalive=1, timeout=30)
        os.kill(own_mosquitto.process.pid, signal.SIGSTOP)
        try:
            pending = asyncio.create_task(client.publish("test/stalled", b"x", qos=1))
            started = time.monotonic()
            cause = await asyncio.wait_for(asyncio.shield(client.closed), 5)
            assert isinstance(cause, MqttTimeout), cause
            assert time.monotonic() - started < 4  # a keep-alive to ping, one to wait
            with pytest.raises(ConnectionClosed) as closed:
                await pending  # the PUBACK it waited for will never come
            assert closed.value.__cause__ is cause
        finally:
            os.kill(own_mosquitto.process.pid, signal.SIGCONT)

    run(main())


def test_the_broker_going_away_closes_the_client(own_mosquitto: Broker, version: int) -> None:
    async def main() -> None:
        client = await sim_client(own_mosquitto, version)
        own_mosquitto.stop()
        cause = await asyncio.wait_for(asyncio.shield(client.closed), 5)
        assert isinstance(cause, ConnectionClosed)
        assert cause.code is None  # mosquitto 2.0 leaves without a DISCONNECT
        with pytest.raises(ConnectionClosed):
            await client.publish("test/late", b"x", qos=0)
        await client.disconnect()

    run(main())


def test_abort_is_a_lost_link_and_disconnect_is_not(mosquitto: Broker, version: int) -> None:
    """The broker publishes a client's will when its connection is lost, not after DISCONNECT."""

    async def main() -> None:
        queue, on_message = inbox()
        watcher = await sim_client(mosquitto, version, on_message)
        base = f"test/{uuid.uuid4().hex}"
        await watcher.subscribe([(f"{base}/#", 1)])
        leaving = await sim_client(mosquitto, version, will=Will(f"{base}/left", b"gone", 1))
        await leaving.disconnect()
        dropped = await sim_client(mosquitto, version, will=Will(f"{base}/dropped", b"lost", 1))
        dropped.abort()
        assert isinstance(dropped.cause, ConnectionClosed)
        assert await next_message(queue) == (f"{base}/dropped", b"lost")
        await asyncio.sleep(0.3)
        assert queue.empty()
        with pytest.raises(ConnectionClosed):
            await dropped.publish(f"{base}/x", b"x")
        await dropped.disconnect()  # harmless after abort
        await watcher.disconnect()

    run(main())


def test_an_idle_connection_is_small(mosquitto: Broker) -> None:
    """The simulator holds 10 000 of them: a few KiB each, and one task (the reader)."""
    count = 100

    async def main() -> None:
        warm = await sim_client(mosquitto, 5)  # imports and first-use caches
        await warm.subscribe([("test/warm", 1)])
        await warm.publish("test/warm", b"x")
        gc.collect()
        tasks = len(asyncio.all_tasks())
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            clients = []
            for i in range(count):
                client = await sim_client(mosquitto, 5)
                await client.subscribe([(f"test/idle/{i}", 1)])
                await client.publish(f"test/idle/{i}", b"x" * 1000)
                clients.append(client)
            await asyncio.sleep(0.2)
            gc.collect()
            per_connection = (tracemalloc.get_traced_memory()[0] - before) / count
        finally:
            tracemalloc.stop()
        assert len(asyncio.all_tasks()) - tasks == count
        assert per_connection < 16 * 1024, per_connection
        for client in [*clients, warm]:
            await client.disconnect()

    run(main())


def test_connect_timeout_and_refused_port() -> None:
    async def main() -> None:
        # A listener that never accepts: the kernel completes the handshake, nobody answers.
        with socket.socket() as silent:
            silent.bind((LOCALHOST, 0))
            silent.listen(1)
            port = silent.getsockname()[1]
            started = time.monotonic()
            with pytest.raises(MqttTimeout):
                await connect(LOCALHOST, port, client_id="t", username="u", timeout=0.5)
            assert time.monotonic() - started < 2
        with pytest.raises(ConnectionClosed):
            await connect(LOCALHOST, free_port(), client_id="t", username="u")

    run(main())


# ---- an otakit server ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def otakit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_server(
        tmp_path_factory.mktemp("otakit-demo"), "", ("--demo",), env={"OTAKIT_LOG_LEVEL": "info"}
    )
    yield server
    server.stop()


async def device(server: ServerProcess, version: int, **kw: Any) -> MqttClient:
    return await connect(
        LOCALHOST,
        server.mqtt_port,
        client_id=f"sim-{uuid.uuid4().hex[:8]}",
        username=TOKEN,
        version=version,
        **kw,
    )


def set_fw_title(server: ServerProcess, title: str) -> None:
    api = Api.login(server.url, "tenant@thingsboard.org", "tenant")
    found = api.get("/api/tenant/devices", params={"deviceName": "Thermostat T1"})
    api.post(f"/api/plugins/telemetry/DEVICE/{found['id']['id']}/SHARED_SCOPE", {"fw_title": title})


def test_otakit_answers_an_attribute_request(otakit: ServerProcess, version: int) -> None:
    title = f"fw-{uuid.uuid4().hex[:8]}"
    set_fw_title(otakit, title)

    async def main() -> None:
        queue, on_message = inbox()
        client = await device(otakit, version, on_message=on_message)
        await client.subscribe([("v1/devices/me/attributes/response/+", 1)])
        request = json.dumps({"sharedKeys": "fw_title"}).encode()
        await client.publish("v1/devices/me/attributes/request/1", request)
        topic, payload = await next_message(queue)
        assert topic == "v1/devices/me/attributes/response/1"
        assert json.loads(payload) == {"shared": {"fw_title": title}}
        await client.disconnect()

    run(main())


def test_otakit_refuses_a_wrong_token(otakit: ServerProcess, version: int) -> None:
    async def main() -> None:
        with pytest.raises(ConnectRefused) as refused:
            await connect(
                LOCALHOST, otakit.mqtt_port, client_id="x", username="wrong", version=version
            )
        assert refused.value.code == (5 if version == 4 else 0x87)  # not authorized

    run(main())


def test_otakit_refuses_a_subscription_with_the_code(otakit: ServerProcess, version: int) -> None:
    async def main() -> None:
        client = await device(otakit, version)
        with pytest.raises(SubscribeRefused) as refused:
            await client.subscribe([("v1/devices/me/attributes", 1), ("not/a/device/topic", 1)])
        # 3.1.1 has only "failure"; MQTT 5 says which: Topic Filter invalid.
        assert refused.value.code == (0x80 if version == 4 else 0x8F)
        assert refused.value.codes == (1, refused.value.code)
        assert "not/a/device/topic" in str(refused.value)
        assert not client.closed.done()
        await client.disconnect()

    run(main())


def test_otakit_refuses_a_bad_publish(otakit: ServerProcess, version: int) -> None:
    """MQTT 5 says so in PUBACK; 3.1.1 has no way but to close the connection."""

    async def main() -> None:
        client = await device(otakit, version)
        publish = client.publish("v1/devices/me/telemetry", b"{not json", qos=1)
        if version == 5:
            with pytest.raises(PublishRefused) as refused:
                await publish
            assert refused.value.code == 0x99  # Payload format invalid
            assert not client.closed.done()
        else:
            with pytest.raises(ConnectionClosed):
                await publish
            assert isinstance(await client.closed, ConnectionClosed)
        await client.disconnect()

    run(main())


def test_otakit_disconnect_reason_reaches_the_client(otakit: ServerProcess, version: int) -> None:
    """A chunk of a package the device has none of: an error, then otakit ends the session."""

    async def main() -> None:
        queue, on_message = inbox()
        client = await device(otakit, version, on_message=on_message)
        await client.subscribe([("v2/fw/error", 1)])
        await client.publish("v2/fw/request/1/chunk/0", b"1024")
        assert await next_message(queue) == ("v2/fw/error", b"NOT_FOUND")
        cause = await asyncio.wait_for(asyncio.shield(client.closed), 5)
        assert isinstance(cause, ConnectionClosed)
        # MQTT 5 hears why in a DISCONNECT (Unspecified error); 3.1.1 only sees the close.
        assert cause.code == (None if version == 4 else 0x80), cause
        await client.disconnect()

    run(main())


def lost_connections(server: ServerProcess) -> int:
    return server.log().count("MQTT session closed: device 'Thermostat T1' (connection lost)")


def test_otakit_sees_an_aborted_connection_lost(otakit: ServerProcess, version: int) -> None:
    async def main() -> None:
        before = lost_connections(otakit)
        client = await device(otakit, version)
        client.abort()
        assert client.closed.done()
        deadline = time.monotonic() + 5
        while lost_connections(otakit) == before:
            assert time.monotonic() < deadline, otakit.log()[-2000:]
            await asyncio.sleep(0.05)
        queue, on_message = inbox()
        again = await device(otakit, version, on_message=on_message)
        await again.subscribe([("v1/devices/me/attributes/response/+", 1)])
        await again.publish("v1/devices/me/attributes/request/7", b"{}")
        assert (await next_message(queue))[0] == "v1/devices/me/attributes/response/7"
        await again.disconnect()
        await asyncio.sleep(0.3)
        assert lost_connections(otakit) == before + 1  # DISCONNECT is no lost connection

    run(main())
