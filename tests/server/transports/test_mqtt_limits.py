"""What one MQTT device may send (numbers, JSON, topics), and that past each bound it gets a
clean answer, never a traceback."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.conftest import TenantContext
from tests.support import mqtt_wire as wire
from tests.support.dedicated import tracebacks
from tests.support.devices import Provisioned, provision
from tests.support.mqtt import MqttDevice
from tests.support.process import ServerProcess

DATA = bytes((i * 7 + 3) % 256 for i in range(5000))
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
