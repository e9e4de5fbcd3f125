"""Spec §6.2 to §6.4: errors for a bad token, nothing assigned, a mismatch, an oversized chunk."""

from __future__ import annotations

import uuid

from otaclient import protocol as wire

from otaconformance.devices import CoapDevice, HttpDevice, MqttDevice
from otaconformance.target import Target, rule


def test_bad_token(target: Target) -> None:
    token = "no-such-" + uuid.uuid4().hex
    http = HttpDevice(target.url, token)
    try:
        response = http.get("firmware", title="t", version="v")
    finally:
        http.close()
    assert response.status_code == 401, rule(
        "§6.3", f"an unknown token gets 401, got {response.status_code}"
    )
    mqtt = MqttDevice(target.mqtt_host, target.mqtt_port, token)
    try:
        assert not mqtt.accepted, rule("§6.2", "an unknown token gets a refused CONNACK")
    finally:
        mqtt.close()
    coap = CoapDevice(target.coap_host, target.coap_port, token)
    try:
        code = coap.get(f"/fw/{token}").code
    finally:
        coap.close()
    assert str(code).startswith("4.01"), rule("§6.4", f"an unknown token gets 4.01, got {code}")


def test_nothing_assigned(target: Target, profile: str) -> None:
    _, token = target.device(profile)
    http = HttpDevice(target.url, token)
    try:
        assert http.get("firmware", title="t", version="v").status_code == 404, rule(
            "§6.3", "nothing assigned: 404"
        )
    finally:
        http.close()
    mqtt = MqttDevice(target.mqtt_host, target.mqtt_port, token)
    try:
        mqtt.subscribe(wire.OTA_ERROR_TOPIC)
        mqtt.publish(wire.chunk_request_topic("fw", 1, 0), b"100")
        error = mqtt.expect(wire.OTA_ERROR_TOPIC)
        assert error is not None and error.payload == b"NOT_FOUND", rule(
            "§6.2", "nothing assigned: NOT_FOUND on v2/fw/error"
        )
    finally:
        mqtt.close()


def test_title_or_version_mismatch(target: Target, profile: str) -> None:
    package = target.package(profile, b"m" * 100)
    _, token = target.device(profile, firmwareId=package["id"])
    http = HttpDevice(target.url, token)
    try:
        response = http.get("firmware", title=package["title"], version="not-" + package["version"])
    finally:
        http.close()
    assert response.status_code == 400, rule(
        "§6.3", f"a title/version that is not the assigned one gets 400, got {response.status_code}"
    )
    coap = CoapDevice(target.coap_host, target.coap_port, token)
    try:
        code = coap.get(f"/fw/{token}?title=other&version={package['version']}").code
    finally:
        coap.close()
    assert str(code).startswith("4.00"), rule("§6.4", f"a title mismatch gets 4.00, got {code}")


def test_oversized_chunk(target: Target, profile: str) -> None:
    package = target.package(profile, b"o" * 100)
    _, token = target.device(profile, firmwareId=package["id"])
    mqtt = MqttDevice(target.mqtt_host, target.mqtt_port, token)
    try:
        mqtt.subscribe(wire.OTA_ERROR_TOPIC)
        mqtt.publish(wire.chunk_request_topic("fw", 1, 0), str(target.mqtt_max_chunk + 1))
        error = mqtt.expect(wire.OTA_ERROR_TOPIC)
        assert error is not None and error.payload == b"PAYLOAD_TOO_LARGE", rule(
            "§6.2", "a chunk larger than the maximum gets PAYLOAD_TOO_LARGE on v2/fw/error"
        )
    finally:
        mqtt.close()
