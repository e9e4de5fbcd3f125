"""Mutated recordings of real MQTT sessions, 50 000 of them, never crash or stall the server.

paho-mqtt sessions (3.1.1 and 5: CONNECT with a real token, subscriptions, telemetry,
attributes, attribute requests, chunk requests, a ping, an error, DISCONNECT) are recorded
through a proxy, then replayed mutated (tests/support/mqtt_mutations.py), many connections at
once, to a server of the test's own, while an honest device downloads its package in chunks.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.conftest import TenantContext
from tests.support import mqtt_wire as wire
from tests.support.byte_flood import flood
from tests.support.dedicated import dedicated_server, tracebacks
from tests.support.devices import provision
from tests.support.mqtt import MqttDevice
from tests.support.mqtt_mutations import Mutator
from tests.support.process import ServerProcess
from tests.support.recording_proxy import RecordingProxy

INPUTS = 50_000
# The bound on the flood: 50 000 inputs take 90-115 s alone on 2 cores, 4 min beside others.
SECONDS = 400
SEED = 20_240_611
FUZZED = bytes((i * 5 + 1) % 256 for i in range(20_000))
HONEST = bytes((i * 11 + 7) % 251 for i in range(64 * 1024))


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


def honest_downloads(port: int, token: str, stop: threading.Event) -> int:
    """Downloads HONEST in 1 KiB chunks, again and again until `stop`; how many times."""
    done = 0
    with no_delay(MqttDevice(port, token, "5", client_id="honest-device")) as mqtt:
        while not stop.is_set() or not done:
            assert mqtt.download(done + 1, 1024, len(HONEST)) == HONEST
            done += 1
    return done


def test_mutated_sessions_never_crash_or_stall_the_server(tmp_path: Path) -> None:
    with dedicated_server("sqlite", tmp_path, {}) as (server, tenant):
        fuzzed, honest = provision(tenant, FUZZED), provision(tenant, HONEST)
        sessions, _ = record(server.mqtt_port, fuzzed.token)
        assert len(sessions) == len(SESSIONS) and all(s[:1] == b"\x10" for s in sessions)
        stop = threading.Event()
        with ThreadPoolExecutor(1) as pool:
            downloads = pool.submit(honest_downloads, server.mqtt_port, honest.token, stop)
            try:
                report = flood(server.mqtt_port, iter(Mutator(sessions, SEED)), INPUTS, SECONDS)
            finally:
                stop.set()
            completed = downloads.result(timeout=60)
        print(
            f"{report.sent} mutated inputs in {report.seconds:.1f} s: "
            f"{report.per_second:.0f}/s; {completed} honest downloads"
        )
        assert report.sent == INPUTS, f"only {report.sent} inputs in {SECONDS} s"
        assert not report.stuck, [s[:200] for s in report.stuck[:3]]
        assert report.refused == 0
        # Still serving, on MQTT and HTTP.
        assert server.process.poll() is None
        with wire.RawDevice(server.mqtt_port) as raw:
            assert raw.connect(honest.token) == 0
            raw.send(wire.publish("v2/fw/request/1/chunk/2", b"1000"))
            assert raw.next_publish() == ("v2/fw/response/1/chunk/2", HONEST[2000:3000])
        assert httpx.get(server.url + "/openapi.json", timeout=10).status_code == 200
        found = tracebacks(server.log())
    assert not found, f"{len(found)} tracebacks in the server log; the first:\n{found[0]}"
