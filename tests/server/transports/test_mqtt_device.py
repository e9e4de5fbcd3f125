"""The MQTT device API (spec §6.2) with paho-mqtt speaking 3.1.1 and 5."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from paho.mqtt.reasoncodes import ReasonCode

from tests.conftest import TenantContext
from tests.support.api import entity_id
from tests.support.devices import Provisioned, provision
from tests.support.mqtt import MqttDevice
from tests.support.process import ServerProcess
from tests.support.strategies import file_and_chunk

DATA = bytes((i * 31 + 7) % 256 for i in range(20_000))
VERSIONS = ["3.1.1", "5"]


@pytest.fixture(params=VERSIONS)
def version(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def device(
    server: ServerProcess, tenant: TenantContext, version: str
) -> Iterator[tuple[MqttDevice, Provisioned]]:
    provisioned = provision(tenant, DATA)
    with MqttDevice(server.mqtt_port, provisioned.token, version) as mqtt:
        yield mqtt, provisioned


def code_value(code: object) -> int:
    return code.value if isinstance(code, ReasonCode) else int(code)  # type: ignore[call-overload]


def test_bad_token_is_refused(server: ServerProcess, version: str) -> None:
    mqtt = MqttDevice(server.mqtt_port, "no-such-token", version)
    try:
        # paho reports 3.1.1's return code 5 as MQTT 5's 0x87 too: "Not authorized".
        assert code_value(mqtt.connect_code) == 0x87
    finally:
        mqtt.close()


def test_bad_token_gets_return_code_5_in_3_1_1(server: ServerProcess) -> None:
    token = b"wrong"
    connect = (
        b"\x10"
        + bytes([12 + 2 + len(token)])
        + b"\x00\x04MQTT\x04\x80\x00\x3c"
        + b"\x00\x00"
        + len(token).to_bytes(2, "big")
        + token
    )
    with socket.create_connection(("127.0.0.1", server.mqtt_port), timeout=10) as sock:
        sock.sendall(connect)
        assert sock.recv(4) == b"\x20\x02\x00\x05"
        assert sock.recv(1) == b""


def test_telemetry_and_attributes_are_stored(
    device: tuple[MqttDevice, Provisioned], tenant: TenantContext
) -> None:
    mqtt, p = device
    mqtt.publish("v1/devices/me/telemetry", json.dumps({"phase": "DOWNLOADING"}))
    mqtt.publish(
        "v1/devices/me/telemetry", json.dumps([{"ts": 1_700_000_000_000, "values": {"temp": 20}}])
    )
    mqtt.publish("v1/devices/me/attributes", json.dumps({"model": "M1"}), qos=0)
    time.sleep(0.3)
    values = tenant.api.get(
        f"/api/plugins/telemetry/DEVICE/{p.device_id}/values/timeseries",
        params={"keys": "phase,temp", "useStrictDataTypes": "true"},
    )
    assert values["phase"][0]["value"] == "DOWNLOADING"
    assert values["temp"] == [{"ts": 1_700_000_000_000, "value": 20}]
    client = tenant.api.get(
        f"/api/plugins/telemetry/DEVICE/{p.device_id}/values/attributes/CLIENT_SCOPE"
    )
    assert [(a["key"], a["value"]) for a in client] == [("model", "M1")]


def test_attribute_request_and_response(
    device: tuple[MqttDevice, Provisioned], tenant: TenantContext
) -> None:
    mqtt, p = device
    mqtt.publish("v1/devices/me/attributes", json.dumps({"model": "M1"}))
    tenant.api.post(
        f"/api/plugins/telemetry/DEVICE/{p.device_id}/SHARED_SCOPE", {"fw_title": "t", "fw_size": 5}
    )
    mqtt.subscribe("v1/devices/me/attributes/response/+")
    mqtt.publish(
        "v1/devices/me/attributes/request/7",
        json.dumps({"clientKeys": "model", "sharedKeys": "fw_title,fw_size"}),
    )
    answer = json.loads(mqtt.expect("v1/devices/me/attributes/response/7").payload)
    assert answer == {"client": {"model": "M1"}, "shared": {"fw_title": "t", "fw_size": 5}}
    mqtt.publish("v1/devices/me/attributes/request/8", json.dumps({"sharedKeys": "missing"}))
    assert json.loads(mqtt.expect("v1/devices/me/attributes/response/8").payload) == {}


def test_shared_attribute_pushes_and_deletions(
    device: tuple[MqttDevice, Provisioned], tenant: TenantContext
) -> None:
    mqtt, p = device
    path = f"/api/plugins/telemetry/DEVICE/{p.device_id}/SHARED_SCOPE"
    tenant.api.post(path, {"before": 1})
    assert mqtt.nothing_on("v1/devices/me/attributes")  # not subscribed yet
    mqtt.subscribe("v1/devices/me/attributes")
    tenant.api.post(path, {"fw_title": "new", "fw_size": 10})
    push = json.loads(mqtt.expect("v1/devices/me/attributes").payload)
    assert push == {"fw_title": "new", "fw_size": 10}
    tenant.api.delete(f"{path}?keys=fw_title,fw_size")
    deleted = json.loads(mqtt.expect("v1/devices/me/attributes").payload)
    assert deleted == {"deleted": ["fw_size", "fw_title"]}


FILE_SIZES = [1, 1023, 1024, 1025, 300_000]


@pytest.mark.parametrize("size", FILE_SIZES)
def test_chunks_concatenate_to_the_package(
    server: ServerProcess, tenant: TenantContext, version: str, size: int
) -> None:
    data = bytes((i * 13) % 251 for i in range(size))
    p = provision(tenant, data)
    with MqttDevice(server.mqtt_port, p.token, version) as mqtt:
        assert mqtt.download(1, 1024, len(data)) == data
        assert mqtt.chunk(2, 0, None) == data  # empty payload: the whole file
        assert mqtt.chunk(3, 0, 0) == data


def test_chunk_index_counts_chunks_not_bytes(device: tuple[MqttDevice, Provisioned]) -> None:
    mqtt, _ = device
    assert mqtt.chunk(1, 3, 100) == DATA[300:400]
    assert mqtt.chunk(1, 200, 100) == b""  # past the end: empty


def test_request_reuses_its_last_chunk_size(device: tuple[MqttDevice, Provisioned]) -> None:
    mqtt, _ = device
    assert mqtt.chunk(5, 0, 512) == DATA[:512]
    assert mqtt.chunk(5, 1, None) == DATA[512:1024]


def test_request_id_stays_bound_to_its_package(
    device: tuple[MqttDevice, Provisioned], tenant: TenantContext
) -> None:
    mqtt, p = device
    assert mqtt.chunk(1, 0, 1000) == DATA[:1000]
    other = tenant.api.upload(
        tenant.api.create_package(tenant.default_profile_id, "other", "2.0")["id"]["id"],
        b"other image" * 100,
    )
    tenant.api.post(
        "/api/device",
        {
            **tenant.api.get(f"/api/device/{p.device_id}"),
            "firmwareId": entity_id("OTA_PACKAGE", other["id"]["id"]),
        },
    )
    assert mqtt.chunk(1, 1, 1000) == DATA[1000:2000]
    assert mqtt.chunk(2, 0, 1000) == (b"other image" * 100)[:1000]


def test_chunks_arrive_without_a_subscription_and_at_its_qos(
    device: tuple[MqttDevice, Provisioned],
) -> None:
    mqtt, _ = device
    mqtt.publish("v2/fw/request/1/chunk/0", b"10")
    assert mqtt.expect("v2/fw/response/1/chunk/0").qos == 1
    mqtt.subscribe("v2/fw/response/+/chunk/+", qos=0)
    mqtt.publish("v2/fw/request/2/chunk/0", b"10")
    assert mqtt.expect("v2/fw/response/2/chunk/0").qos == 0


def test_the_examples_filter_is_refused_but_chunks_still_come(
    device: tuple[MqttDevice, Provisioned],
) -> None:
    mqtt, _ = device
    [granted] = mqtt.subscribe("v2/fw/response/+")
    assert code_value(granted) >= 0x80
    assert mqtt.chunk(1, 0, 10) == DATA[:10]


def test_software_downloads_alike(
    server: ServerProcess, tenant: TenantContext, version: str
) -> None:
    p = provision(tenant, DATA, "SOFTWARE")
    with MqttDevice(server.mqtt_port, p.token, version) as mqtt:
        assert mqtt.download(1, 4096, len(DATA), "sw") == DATA


def test_oversized_chunk_gets_payload_too_large(device: tuple[MqttDevice, Provisioned]) -> None:
    mqtt, _ = device
    mqtt.publish("v2/fw/request/1/chunk/0", str(2 * 1024 * 1024).encode())
    assert mqtt.expect("v2/fw/error").payload == b"PAYLOAD_TOO_LARGE"
    deadline = time.monotonic() + 5
    while not mqtt.disconnected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert mqtt.disconnected


def test_nothing_assigned_gets_not_found(server: ServerProcess, tenant: TenantContext) -> None:
    tenant.api.create_device("bare", tenant.default_profile_id, token="bare-token")
    with MqttDevice(server.mqtt_port, "bare-token") as mqtt:
        mqtt.publish("v2/sw/request/1/chunk/0", b"10")
        assert mqtt.expect("v2/fw/error").payload == b"NOT_FOUND"


def test_a_device_sees_only_its_own_attributes_and_package(
    server: ServerProcess, tenant: TenantContext
) -> None:
    mine, theirs = provision(tenant, b"mine" * 50), provision(tenant, b"theirs" * 50)
    tenant.api.post(f"/api/plugins/telemetry/DEVICE/{theirs.device_id}/SHARED_SCOPE", {"secret": 1})
    with MqttDevice(server.mqtt_port, mine.token) as mqtt:
        mqtt.subscribe("v1/devices/me/attributes")
        tenant.api.post(
            f"/api/plugins/telemetry/DEVICE/{theirs.device_id}/SHARED_SCOPE", {"secret": 2}
        )
        assert mqtt.nothing_on("v1/devices/me/attributes")
        mqtt.publish("v1/devices/me/attributes/request/1", json.dumps({"sharedKeys": "secret"}))
        assert json.loads(mqtt.expect("v1/devices/me/attributes/response/1").payload) == {}
        assert mqtt.chunk(1, 0, None) == b"mine" * 50


def test_keep_alive_closes_a_silent_connection(
    server: ServerProcess, tenant: TenantContext
) -> None:
    p = provision(tenant, b"x")
    connect = (
        b"\x10"
        + bytes([12 + 2 + len(p.token)])
        + b"\x00\x04MQTT\x04\x80\x00\x01"
        + b"\x00\x00"
        + len(p.token).to_bytes(2, "big")
        + p.token.encode()
    )
    with socket.create_connection(("127.0.0.1", server.mqtt_port), timeout=10) as sock:
        sock.sendall(connect)
        assert sock.recv(4) == b"\x20\x02\x00\x00"
        started = time.monotonic()
        assert sock.recv(10) == b""  # closed by the server, keep-alive 1 s
        assert 1.0 <= time.monotonic() - started < 5


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sizes=file_and_chunk(5000, 6000))
def test_any_file_and_chunk_size(
    server: ServerProcess, tenant: TenantContext, sizes: tuple[int, int]
) -> None:
    size, chunk = sizes
    data = (bytes(range(256)) * (size // 256 + 1))[:size]
    p = provision(tenant, data)
    with MqttDevice(server.mqtt_port, p.token) as mqtt:
        assert mqtt.download(1, chunk, size) == data
