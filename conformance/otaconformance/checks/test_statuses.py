"""Spec §3 and §8: devices report their states; the history keeps them, in order."""

from __future__ import annotations

import json

import pytest
from otaclient import protocol as wire

from otaconformance.devices import MqttDevice
from otaconformance.target import Target, rule

REPORTS = ["DOWNLOADING", "DOWNLOADED", "VERIFIED", "UPDATING"]


def test_reported_states_are_kept_in_order(target: Target, profile: str) -> None:
    package = target.package(profile, b"s" * 100)
    device, token = target.device(profile, firmwareId=package["id"])
    device_id = device["id"]["id"]
    target.notified(device_id, package)
    mqtt = MqttDevice(target.mqtt_host, target.mqtt_port, token)
    base = target.telemetry(device_id, "fw_state")[-1][0]
    try:
        for offset, state in enumerate([*REPORTS, "IDLE"], start=1):
            body = {"ts": base + offset, "values": {"fw_state": state}}
            mqtt.publish(wire.TELEMETRY_TOPIC, json.dumps(body))
        final = {
            "fw_state": "UPDATED",
            "current_fw_title": package["title"],
            "current_fw_version": package["version"],
        }
        mqtt.publish(wire.TELEMETRY_TOPIC, json.dumps({"ts": base + 10, "values": final}))
    finally:
        mqtt.close()
    target.wait(lambda: target.telemetry(device_id, "fw_state")[-1][1] == "UPDATED", "UPDATED")
    history = [value for ts, value in target.telemetry(device_id, "fw_state") if ts > base]
    assert history == [*REPORTS, "IDLE", "UPDATED"], rule(
        "§3", f"every reported state is kept, IDLE too, in order: {history}"
    )


@pytest.mark.otakit_extension
def test_otakit_history_and_dashboard(target: Target, profile: str) -> None:
    package = target.package(profile, b"d" * 100)
    device, _ = target.device(profile, firmwareId=package["id"])
    target.notified(device["id"]["id"], package)
    history = target.call("GET", f"/api/ota/device/{device['id']['id']}/history")
    assert [entry["status"] for entry in history][:2] == ["QUEUED", "INITIATED"]
    counts = target.call(
        "GET", "/api/ota/dashboard/counts", params={"otaPackageId": package["id"]["id"]}
    )
    assert counts["updating"] == 1, rule("§8", "INITIATED counts in the updating tab")
