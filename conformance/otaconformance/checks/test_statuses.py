"""Spec §2.3, §3 and §8: devices report their states; the history keeps them, in order."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from otaclient import protocol as wire

from otaconformance.devices import CoapDevice, HttpDevice, MqttDevice, code_text
from otaconformance.target import Target, rule

# What a device reports on the way to UPDATED, a state the server does not know, and a failure.
REPORTS = ["DOWNLOADING", "DOWNLOADED", "VERIFIED", "IDLE", "FAILED", "UPDATING", "UPDATED"]
Send = Callable[[dict[str, Any]], None]
CURRENT_KEYS = (wire.current_title_key(wire.FIRMWARE), wire.current_version_key(wire.FIRMWARE))


def mqtt_sender(target: Target, token: str) -> tuple[Any, Send]:
    mqtt = MqttDevice(target.mqtt_host, target.mqtt_port, token)
    return mqtt, lambda body: mqtt.publish(wire.TELEMETRY_TOPIC, json.dumps(body))


def http_sender(target: Target, token: str) -> tuple[Any, Send]:
    http = HttpDevice(target.url, token)

    def send(body: dict[str, Any]) -> None:
        assert http.post("telemetry", body).status_code == 200, rule("§6.3", "telemetry: 200")

    return http, send


def coap_sender(target: Target, token: str) -> tuple[Any, Send]:
    coap = CoapDevice(target.coap_host, target.coap_port, token)

    def send(body: dict[str, Any]) -> None:
        code = code_text(coap.post(f"/api/v1/{token}/telemetry", body))
        assert code in ("2.01", "2.03"), rule("§6.4", f"telemetry: 2.01 (2.03 before), got {code}")

    return coap, send


@pytest.mark.parametrize(
    "sender", [mqtt_sender, http_sender, coap_sender], ids=["mqtt", "http", "coap"]
)
def test_reported_states_are_kept_in_order(
    target: Target, profile: str, sender: Callable[[Target, str], tuple[Any, Send]]
) -> None:
    package = target.package(profile, b"s" * 100)
    device, token = target.device(profile, firmwareId=package["id"])
    device_id = device["id"]["id"]
    target.notified(device_id, package)
    base = target.telemetry(device_id, "fw_state")[-1][0]
    connection, send = sender(target, token)
    with connection:
        for offset, state in enumerate(REPORTS, start=1):
            values: dict[str, Any] = {"fw_state": state}
            if state == "FAILED":
                values["fw_error"] = "checksum mismatch"
            if state == "UPDATED":
                values |= dict(
                    zip(CURRENT_KEYS, (package["title"], package["version"]), strict=True)
                )
            send({"ts": base + offset, "values": values})
    target.wait(lambda: target.telemetry(device_id, "fw_state")[-1][1] == "UPDATED", "UPDATED")
    history = [value for ts, value in target.telemetry(device_id, "fw_state") if ts > base]
    assert history == REPORTS, rule(
        "§3", f"every reported state is kept, IDLE too, in order, unchecked: {history}"
    )
    errors = target.telemetry(device_id, "fw_error")
    assert errors == [(base + REPORTS.index("FAILED") + 1, "checksum mismatch")], rule(
        "§2.3", f"fw_error is kept as reported with FAILED: {errors}"
    )
    current = [target.telemetry(device_id, key)[-1][1] for key in CURRENT_KEYS]
    assert current == [package["title"], package["version"]], rule(
        "§2.3", f"current_fw_title/version are kept as reported with UPDATED: {current}"
    )


@pytest.mark.otakit_extension
def test_otakit_history_and_dashboard(target: Target, profile: str) -> None:
    package = target.package(profile, b"d" * 100)
    device, token = target.device(profile, firmwareId=package["id"])
    target.notified(device["id"]["id"], package)
    counts = target.call(
        "GET", "/api/ota/dashboard/counts", params={"otaPackageId": package["id"]["id"]}
    )
    assert counts["updating"] == 1, rule("§8", "INITIATED counts in the updating tab")
    with HttpDevice(target.url, token) as http:
        http.post("telemetry", {"fw_state": "FAILED", "fw_error": "no space"})
    history = target.call("GET", f"/api/ota/device/{device['id']['id']}/history")
    assert [entry["status"] for entry in history] == ["QUEUED", "INITIATED", "FAILED"], rule(
        "§8", f"the history lists every status in order: {history}"
    )
    counts = target.call(
        "GET", "/api/ota/dashboard/counts", params={"otaPackageId": package["id"]["id"]}
    )
    assert (counts["updating"], counts["failed"]) == (0, 1), rule(
        "§8", f"FAILED counts in the failed tab: {counts}"
    )
