"""Spec §2.1 and §6.2: attribute pushes, requests and deletions."""

from __future__ import annotations

import json

from otaclient import protocol as wire

from otaconformance.devices import MqttDevice
from otaconformance.target import Target, rule

KEYS = ["fw_title", "fw_version", "fw_size", "fw_checksum", "fw_checksum_algorithm"]


def test_push_request_and_deletion(target: Target, profile: str) -> None:
    package = target.package(profile, b"push" * 256)
    device, token = target.device(profile)
    mqtt = MqttDevice(target.mqtt_host, target.mqtt_port, token)
    try:
        mqtt.subscribe(wire.ATTRIBUTES_TOPIC)
        mqtt.subscribe(wire.ATTRIBUTES_RESPONSE_FILTER)
        target.assign(device, package)
        pushed = mqtt.expect(wire.ATTRIBUTES_TOPIC, timeout=target.notify_timeout)
        assert pushed is not None, rule("§4.4", "the device is pushed its new attributes")
        update = json.loads(pushed.payload)
        while "deleted" in update and "fw_title" not in update:  # stale keys go first
            pushed = mqtt.expect(wire.ATTRIBUTES_TOPIC, timeout=target.notify_timeout)
            assert pushed is not None
            update = json.loads(pushed.payload)
        assert update["fw_title"] == package["title"], rule("§6.2", "a push is flat JSON")
        assert isinstance(update["fw_size"], int), rule("§2.1", "fw_size is a JSON number")
        answer = mqtt.attributes(1, KEYS)
        assert answer is not None and answer["shared"]["fw_version"] == package["version"], rule(
            "§6.2", "an attribute request with comma-separated sharedKeys gets {shared: ...}"
        )
        target.assign(device, None)
        deleted = mqtt.expect(wire.ATTRIBUTES_TOPIC)
        assert deleted is not None, rule("§2.1", "unassignment tells the device")
        assert "fw_title" in json.loads(deleted.payload).get("deleted", []), rule(
            "§2.1", "unassignment pushes {deleted: [fw_title, ...]}"
        )
        assert "fw_title" not in target.shared(device["id"]["id"])
    finally:
        mqtt.close()
