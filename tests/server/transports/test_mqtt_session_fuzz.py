"""Recordings of real MQTT sessions, replayed.

paho-mqtt sessions (3.1.1 and 5: CONNECT with a real token, subscriptions, telemetry,
attributes, attribute requests, chunk requests, a ping, an error, DISCONNECT) are recorded
through a proxy, then replayed, each in one write.
"""

from __future__ import annotations

import json
import socket
import time

from tests.conftest import TenantContext
from tests.support import mqtt_wire as wire
from tests.support.devices import provision
from tests.support.mqtt import MqttDevice
from tests.support.process import ServerProcess
from tests.support.recording_proxy import RecordingProxy

FUZZED = bytes((i * 5 + 1) % 256 for i in range(20_000))


def no_delay(mqtt: MqttDevice) -> MqttDevice:
    """Without TCP_NODELAY, paho's small writes wait for the server's delayed ACK (40 ms)."""
    sock = mqtt.client.socket()
    assert isinstance(sock, socket.socket)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return mqtt


# Small sessions, each touching the database once or twice besides CONNECT: the server's time
# per input bounds the inputs per second, and every packet kind appears in some session.
TELEMETRY, ATTRIBUTES = "v1/devices/me/telemetry", "v1/devices/me/attributes"
REQUEST, RESPONSE = "v1/devices/me/attributes/request/", "v1/devices/me/attributes/response/"
VALUES = {"ts": 1_700_000_000_000, "values": {"temperature": 20.5, "ok": True, "note": "x"}}
KEYS = {"clientKeys": "model", "sharedKeys": "fw_title,fw_version,fw_size,fw_checksum"}


def ping(mqtt: MqttDevice) -> None:
    time.sleep(1.2)  # paho pings at keep-alive 1 s


def subscriptions_telemetry_and_a_ping(mqtt: MqttDevice) -> None:
    mqtt.subscribe(ATTRIBUTES)
    mqtt.subscribe(RESPONSE + "+", qos=0)
    mqtt.subscribe("v2/fw/response/+")  # refused, as in ThingsBoard's examples
    mqtt.publish(TELEMETRY, json.dumps({"fw_state": "DOWNLOADING"}))
    ping(mqtt)
    mqtt.client.unsubscribe(ATTRIBUTES)


def telemetry_at_every_qos(mqtt: MqttDevice) -> None:
    mqtt.publish(TELEMETRY, json.dumps(VALUES), qos=0)
    mqtt.publish(TELEMETRY, json.dumps([VALUES, VALUES]), qos=2)


def attributes_and_a_request(mqtt: MqttDevice) -> None:
    mqtt.publish(ATTRIBUTES, json.dumps({"model": "M1", "slots": 2}))
    mqtt.publish(REQUEST + "1", json.dumps(KEYS))
    mqtt.expect(RESPONSE + "1")


def every_attribute_and_a_ping(mqtt: MqttDevice) -> None:
    mqtt.publish(REQUEST + "2", b"")
    mqtt.expect(RESPONSE + "2")
    ping(mqtt)


def chunks(mqtt: MqttDevice) -> None:
    mqtt.subscribe("v2/fw/response/+/chunk/+")
    mqtt.subscribe("v2/fw/error", qos=0)
    assert mqtt.chunk(1, 0, 1024) == FUZZED[:1024]
    assert mqtt.chunk(1, 1, None) == FUZZED[1024:2048]
    assert mqtt.chunk(1, 19, 1024) == FUZZED[19 * 1024 :]
    assert mqtt.chunk(1, 20, 1024) == b""


def whole_file(mqtt: MqttDevice) -> None:
    assert mqtt.chunk(7, 0, 0) == FUZZED


def software_not_found(mqtt: MqttDevice) -> None:
    mqtt.publish("v2/sw/request/1/chunk/0", b"100")
    assert mqtt.expect("v2/fw/error").payload == b"NOT_FOUND"


def payload_too_large(mqtt: MqttDevice) -> None:
    mqtt.publish("v2/fw/request/1/chunk/0", b"2000000")
    assert mqtt.expect("v2/fw/error").payload == b"PAYLOAD_TOO_LARGE"


# (what the device does, MQTT version, client id, keep-alive)
SESSIONS = [
    (subscriptions_telemetry_and_a_ping, "3.1.1", "fuzz-3", 1),
    (telemetry_at_every_qos, "5", "", 60),
    (attributes_and_a_request, "3.1.1", "", 60),
    (every_attribute_and_a_ping, "5", "fuzz-5", 1),
    (chunks, "5", "", 60),
    (chunks, "3.1.1", "", 60),
    (whole_file, "3.1.1", "fuzz-3", 60),
    (software_not_found, "5", "", 60),
    (payload_too_large, "3.1.1", "", 60),
]


def record(port: int, token: str) -> tuple[list[bytes], list[bytes]]:
    """What paho sends in each of SESSIONS, and what it gets, recorded through a proxy."""
    with RecordingProxy(port) as proxy:
        for act, version, client_id, keep_alive in SESSIONS:
            with no_delay(MqttDevice(proxy.port, token, version, keep_alive, client_id)) as mqtt:
                act(mqtt)
                time.sleep(0.05)  # an UNSUBSCRIBE or PUBREL on its way
    return [bytes(s) for s in proxy.sessions], [bytes(a) for a in proxy.answers]


def replay(port: int, session: bytes) -> bytes:
    """Sends a session in one write and returns all the server says until it closes."""
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(session)
        sock.shutdown(socket.SHUT_WR)
        while data := sock.recv(65536):
            answer += data
    return answer


def test_a_session_sent_in_one_write_is_answered_as_when_sent_packet_by_packet(
    server: ServerProcess, tenant: TenantContext
) -> None:
    """A client need not wait for the CONNACK (MQTT 3.1.4), and the fuzzer's inputs don't."""
    sessions, answers = record(server.mqtt_port, provision(tenant, FUZZED).token)
    for session, answer, (act, version, *_) in zip(sessions, answers, SESSIONS, strict=True):
        level = 4 if version == "3.1.1" else 5
        replayed = replay(server.mqtt_port, session)
        assert answers_in(replayed, level) == answers_in(answer, level), act.__name__


def answers_in(data: bytes, level: int) -> list[tuple[int, object]]:
    """The kind and body of each packet a server sent (a PUBLISH's topic and payload, without
    its packet id), leaving out attribute pushes, which come when the server has news, and the
    CONNACK's body, which holds the client id the server chose, if it did."""
    answers: list[tuple[int, object]] = []
    for packet in wire.split(data)[0]:
        received = wire.Received.of(packet)
        if received.kind == 3:
            publish = received.publish(level)
            if publish[0] != ATTRIBUTES:
                answers.append((3, publish))
        else:
            answers.append((received.kind, b"" if received.kind == 2 else received.body))
    return answers
