"""What one MQTT device may hold (subscriptions, request ids, connections) and send (numbers,
JSON), and that past each bound it gets a clean answer, never a traceback."""

from __future__ import annotations

import asyncio
import json
import queue
import statistics
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from paho.mqtt.reasoncodes import ReasonCode

from tests.conftest import TenantContext
from tests.support import mqtt_wire as wire
from tests.support.api import entity_id
from tests.support.dedicated import dedicated_server, tracebacks
from tests.support.devices import Provisioned, provision
from tests.support.mqtt import MqttDevice
from tests.support.process import ServerProcess

DATA = bytes((i * 7 + 3) % 256 for i in range(5000))
MAX_SUBSCRIPTIONS, MAX_DOWNLOADS = 64, 16  # the defaults, which the shared server has
LEVELS = {"3.1.1": 4, "5": 5}
HUGE = "9" * 5000  # more digits than Python's int() takes (4300)


@pytest.fixture(params=list(LEVELS))
def version(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def device(tenant: TenantContext) -> Provisioned:
    return provision(tenant, DATA)


@pytest.fixture
def quiet_log(server: ServerProcess) -> Iterator[None]:
    """Fails the test if the server logged a traceback while it ran."""
    start = len(server.log())
    yield
    assert not tracebacks(server.log()[start:])


# ---- numbers and JSON ------------------------------------------------------------------------


def test_a_chunk_size_of_too_many_digits_gets_payload_too_large(
    server: ServerProcess, device: Provisioned, version: str, quiet_log: None
) -> None:
    with wire.RawDevice(server.mqtt_port) as raw:
        assert raw.connect(device.token, LEVELS[version]) == 0
        raw.send(wire.publish("v2/fw/request/1/chunk/0", HUGE.encode(), raw.level, qos=1))
        assert raw.next_publish() == ("v2/fw/error", b"PAYLOAD_TOO_LARGE")
        assert raw.closed_by_server()


def test_a_chunk_index_of_too_many_digits_is_past_the_end(
    server: ServerProcess, device: Provisioned, version: str, quiet_log: None
) -> None:
    with wire.RawDevice(server.mqtt_port) as raw:
        assert raw.connect(device.token, LEVELS[version]) == 0
        zeros, zero_bytes = "0" * 5000, b"0" * 5000
        for topic, size, reply in [
            (f"v2/fw/request/1/chunk/{HUGE}", b"100", (f"v2/fw/response/1/chunk/{HUGE}", b"")),
            # Leading zeros count for nothing, in the index and in the size.
            (f"v2/fw/request/1/chunk/{zeros}3", b"", ("v2/fw/response/1/chunk/3", DATA[300:400])),
            (
                "v2/fw/request/2/chunk/1",
                zero_bytes + b"5",
                ("v2/fw/response/2/chunk/1", DATA[5:10]),
            ),
        ]:
            raw.send(wire.publish(topic, size, raw.level, qos=1))
            assert raw.next_publish() == reply


def test_oversized_numbers_and_deep_json_get_a_clean_answer(
    server: ServerProcess, device: Provisioned, version: str, quiet_log: None
) -> None:
    """MQTT 5 gets a PUBACK saying the payload is invalid; 3.1.1 is disconnected (as by TB)."""
    level = LEVELS[version]
    payloads = [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
        b'{"n":' + HUGE.encode() + b"}",
        b'{"sharedKeys":"fw_title","n":' + HUGE.encode() + b"}",
    ]
    topics = [
        "v1/devices/me/telemetry",
        "v1/devices/me/attributes",
        "v1/devices/me/attributes/request/1",
    ]
    for topic in topics:
        with wire.RawDevice(server.mqtt_port) as raw:
            assert raw.connect(device.token, level) == 0
            for number, payload in enumerate(payloads, start=1):
                if level == 4 and number > 1:
                    break  # the first one closed the connection
                raw.send(wire.publish(topic, payload, level, qos=1, packet_id=number))
                answer = raw.read()
                if level == 4:
                    assert answer is None, (topic, answer)
                else:
                    assert answer is not None and answer.kind == 4, (topic, answer)
                    assert answer.body[:3] == number.to_bytes(2, "big") + b"\x99", topic
            # MQTT 5: still connected and answering.
            if level == 5:
                raw.send(wire.publish("v2/fw/request/1/chunk/0", b"10", level))
                assert raw.next_publish() == ("v2/fw/response/1/chunk/0", DATA[:10])


# Two bugs outside MQTT that the session fuzzer found (fixed in the domain's JSON reading).
def test_a_telemetry_ts_past_64_bits_gets_a_clean_answer(
    server: ServerProcess, device: Provisioned
) -> None:
    assert refused_cleanly(server, device, b'{"ts":18446744073709551616,"values":{"a":1}}')


def test_a_json_number_beyond_a_float_gets_a_clean_answer(
    server: ServerProcess, device: Provisioned
) -> None:
    assert refused_cleanly(server, device, b'{"a":1e999}')


def refused_cleanly(server: ServerProcess, device: Provisioned, telemetry: bytes) -> bool:
    """Whether MQTT 5 telemetry gets a PUBACK saying the payload is invalid, and no traceback."""
    start = len(server.log())
    with wire.RawDevice(server.mqtt_port) as raw:
        assert raw.connect(device.token, 5) == 0
        raw.send(wire.publish("v1/devices/me/telemetry", telemetry, 5, qos=1))
        answer = raw.read()
    time.sleep(0.2)  # the log line of a failure, if any
    refused = answer is not None and answer.kind == 4 and answer.body[2:3] == b"\x99"
    return refused and not tracebacks(server.log()[start:])


# ---- ASCII digits only -----------------------------------------------------------------------


def test_only_ascii_digits_name_requests_and_chunks(
    server: ServerProcess, device: Provisioned, version: str, quiet_log: None
) -> None:
    with MqttDevice(server.mqtt_port, device.token, version) as mqtt:
        mqtt.publish("v2/fw/request/1/chunk/\u0663", b"100")  # ARABIC-INDIC DIGIT THREE
        mqtt.publish("v2/fw/request/\u0661/chunk/3", b"100")
        mqtt.publish("v2/fw/request/\uff11/chunk/3", b"100")  # FULLWIDTH DIGIT ONE
        mqtt.publish("v1/devices/me/attributes/request/\u0667", json.dumps({"sharedKeys": "x"}))
        # Answered in order: the reply to a plain request comes first, so none came before it.
        mqtt.publish("v2/fw/request/5/chunk/4", b"100")
        first = mqtt.messages.get(timeout=10)
        assert (first.topic, first.payload) == ("v2/fw/response/5/chunk/4", DATA[400:500])
        # A chunk size is ASCII decimal text too.
        mqtt.publish("v2/fw/request/2/chunk/0", "\u0661\u0660".encode())
        assert mqtt.expect("v2/fw/error").payload == b"INVALID_CHUNK_SIZE"


# ---- subscriptions ---------------------------------------------------------------------------


def code_value(code: object) -> int:
    return code.value if isinstance(code, ReasonCode) else int(code)  # type: ignore[call-overload]


def subscribe(mqtt: MqttDevice, filters: list[str], qos: int = 1) -> list[int]:
    """Subscribes to all `filters` in one SUBSCRIBE; their SUBACK codes."""
    granted: queue.Queue[list[object]] = queue.Queue()
    mqtt.client.on_subscribe = lambda _c, _u, _mid, codes, _p: granted.put(codes)
    mqtt.client.subscribe([(f, qos) for f in filters])
    return [code_value(c) for c in granted.get(timeout=30)]


def unsubscribe(mqtt: MqttDevice, topic_filter: str) -> None:
    done: queue.Queue[int] = queue.Queue()
    mqtt.client.on_unsubscribe = lambda _c, _u, mid, _codes, _p: done.put(mid)
    mqtt.client.unsubscribe(topic_filter)
    done.get(timeout=10)


def test_subscriptions_past_the_limit_are_refused(
    server: ServerProcess, device: Provisioned, version: str, quiet_log: None
) -> None:
    refused = 0x97 if version == "5" else 0x80  # Quota exceeded; 3.1.1 has only "Failure"
    held = [f"v1/devices/me/attributes/response/{i}" for i in range(MAX_SUBSCRIPTIONS - 1)]
    with MqttDevice(server.mqtt_port, device.token, version) as mqtt:
        assert subscribe(mqtt, [*held, "v2/fw/response/+/chunk/+"]) == [1] * MAX_SUBSCRIPTIONS
        # Full: a new filter is refused, one already held is granted again without counting.
        again = subscribe(mqtt, ["v2/fw/error", held[0], "v2/fw/response/+/chunk/+"], qos=0)
        assert again == [refused, 0, 0]
        unsubscribe(mqtt, held[1])
        assert subscribe(mqtt, ["v2/fw/error", "v2/sw/error"]) == [1, refused]
        # The connection goes on, at the QoS the wildcard filter holds now.
        mqtt.publish("v2/fw/request/1/chunk/2", b"100")
        reply = mqtt.expect("v2/fw/response/1/chunk/2")
        assert (reply.payload, reply.qos) == (DATA[200:300], 0)


def test_publish_cost_does_not_grow_with_subscriptions(backend: str, tmp_path: Path) -> None:
    """With 20 000 subscriptions (a limit raised for the test), a chunk costs what it does with
    one: a PUBLISH looks its topic up instead of matching every filter (once 50x slower)."""
    many = 20_000
    env = {"OTAKIT_MQTT_MAX_SUBSCRIPTIONS": str(many)}
    with dedicated_server(backend, tmp_path, env) as (server, tenant):
        p = provision(tenant, DATA)
        with wire.RawDevice(server.mqtt_port) as one, wire.RawDevice(server.mqtt_port) as loaded:
            for raw in (one, loaded):
                assert raw.connect(p.token) == 0
            filters = [f"v2/fw/response/{i}/chunk/0" for i in range(many)]
            for packet_id, start in enumerate(range(0, many, 2000), start=1):
                loaded.send(wire.subscribe(packet_id, filters[start : start + 2000]))
                suback = loaded.read()
                assert suback is not None and suback.body[2:] == b"\x01" * 2000
            one.send(wire.subscribe(1, ["v2/fw/response/+/chunk/+"]))
            assert one.read() == wire.Received(9, 0, b"\x00\x01\x01")
            times: dict[wire.RawDevice, list[float]] = {one: [], loaded: []}
            for index in range(100):  # interleaved, so both see the same machine load
                for raw in (one, loaded):
                    started = time.perf_counter()
                    raw.send(wire.publish(f"v2/fw/request/1/chunk/{index % 40}", b"100"))
                    _, payload = raw.next_publish()
                    times[raw].append(time.perf_counter() - started)
                    assert payload == DATA[index % 40 * 100 :][:100]
        assert not tracebacks(server.log())
    one_ms, many_ms = (statistics.median(times[raw]) * 1000 for raw in (one, loaded))
    print(f"chunk round trip: {one_ms:.2f} ms with 1 subscription, {many_ms:.2f} ms with {many}")
    assert many_ms < 3 * one_ms + 1, (one_ms, many_ms)


# ---- request ids -----------------------------------------------------------------------------


def assign(tenant: TenantContext, device_id: str, data: bytes) -> None:
    """Assigns a new package holding `data` to the device."""
    package = tenant.api.create_package(tenant.default_profile_id, f"p-{time.time_ns()}", "2.0")
    package = tenant.api.upload(package["id"]["id"], data)
    tenant.api.post(
        "/api/device",
        {
            **tenant.api.get(f"/api/device/{device_id}"),
            "firmwareId": entity_id("OTA_PACKAGE", package["id"]["id"]),
        },
    )


def test_least_recently_used_request_id_is_forgotten(
    server: ServerProcess, tenant: TenantContext, device: Provisioned, quiet_log: None
) -> None:
    new = b"the new image " * 100
    with MqttDevice(server.mqtt_port, device.token) as mqtt:
        assert mqtt.chunk(1, 0, 100) == DATA[:100]
        assert mqtt.chunk(2, 0, 100) == DATA[:100]
        assign(tenant, device.device_id, new)
        # MAX_DOWNLOADS - 1 new ids fill the table; one more forgets id 1, never the busy id 2.
        for request_id in range(100, 100 + MAX_DOWNLOADS - 1):
            assert mqtt.chunk(request_id, 0, 100) == new[:100]
            assert mqtt.chunk(2, 1, 100) == DATA[100:200]
        assert mqtt.chunk(1, 1, 100) == new[100:200]  # resolved again: the new assignment
        assert mqtt.chunk(2, 2, 100) == DATA[200:300]  # still pinned to the old package


def test_request_ids_leave_the_server_memory_flat(backend: str, tmp_path: Path) -> None:
    """Each new request id used to keep ~1.5 KB for the connection's life."""
    with dedicated_server(backend, tmp_path, {}) as (server, tenant):
        p = provision(tenant, DATA)
        process = psutil.Process(server.process.pid)
        with wire.RawDevice(server.mqtt_port) as raw:
            assert raw.connect(p.token) == 0

            def request_ids(first: int, count: int) -> None:
                for batch in range(first, first + count, 250):
                    raw.send(
                        b"".join(
                            wire.publish(f"v2/fw/request/{i}/chunk/1", b"10")
                            for i in range(batch, batch + 250)
                        )
                    )
                    for i in range(batch, batch + 250):
                        assert raw.next_publish() == (f"v2/fw/response/{i}/chunk/1", DATA[10:20])

            request_ids(0, 500)  # warm-up: caches, pools and allocator arenas reach their size
            before = process.memory_info().rss
            request_ids(500, 2500)
            grown = process.memory_info().rss - before
        assert not tracebacks(server.log())
    print(f"server memory after 2500 more request ids: {grown / 1024:+.0f} KiB")
    assert grown < 1024 * 1024  # 2500 kept bindings were 4.5 MiB


# ---- connections -----------------------------------------------------------------------------


def test_connections_past_the_limit_are_closed_at_once(backend: str, tmp_path: Path) -> None:
    limit = 20
    env = {"OTAKIT_MQTT_MAX_CONNECTIONS": str(limit)}
    with dedicated_server(backend, tmp_path, env) as (server, tenant):
        p = provision(tenant, DATA)
        held = [wire.RawDevice(server.mqtt_port) for _ in range(limit)]
        try:
            for raw in held:
                assert raw.connect(p.token) == 0
            for _ in range(5):
                with wire.RawDevice(server.mqtt_port) as extra:
                    extra.send(wire.connect(p.token))
                    started = time.monotonic()
                    assert extra.read() is None  # closed, without a CONNACK
                    assert time.monotonic() - started < 2
            for raw in held[:3]:
                raw.sock.close()
            # As soon as the server has seen them go, a device connects and downloads.
            deadline = time.monotonic() + 10
            while not accepted(server.mqtt_port, p.token):
                assert time.monotonic() < deadline, "no connection was accepted again"
                time.sleep(0.05)
            with MqttDevice(server.mqtt_port, p.token) as mqtt:
                assert mqtt.download(1, 1000, len(DATA)) == DATA
        finally:
            for raw in held:
                raw.sock.close()
        log = server.log()
    refusals = [line for line in log.splitlines() if "MQTT connection refused" in line]
    assert len(refusals) == 1, refusals  # throttled: one line for the five
    assert not tracebacks(log)


def accepted(port: int, token: str) -> bool:
    with wire.RawDevice(port) as raw:
        raw.send(wire.connect(token))
        return raw.read() is not None


def test_a_storm_of_connects_is_answered_in_full(
    tenant: TenantContext, server: ServerProcess
) -> None:
    """A thousand devices connecting at once (a server restart) all get their CONNACK: the
    token lookups queue and go in batches, and none holds a database connection for long."""
    tokens = [f"storm-{uuid.uuid4().hex[:8]}-{n}" for n in range(100)]
    for token in tokens:
        tenant.api.create_device(token, tenant.default_profile_id, token=token)
    tokens.append("storm-unknown-token")

    async def connect(token: str) -> int:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.mqtt_port)
        try:
            writer.write(wire.connect(token, client_id=f"{token}-{uuid.uuid4().hex}"))
            ack = await asyncio.wait_for(reader.readexactly(4), 60)
            assert ack[0] == 0x20, ack
            return ack[3]
        finally:
            writer.close()

    async def storm() -> list[int]:
        return await asyncio.gather(*(connect(tokens[n % len(tokens)]) for n in range(1010)))

    codes = asyncio.run(storm())
    assert codes.count(5) == 10  # the unknown token: NOT_AUTHORIZED
    assert codes.count(0) == 1000
    log = server.log()
    assert "QueuePool" not in log and not tracebacks(log)
