"""Spec §2.2, §4.2 to §4.4: QUEUED and target_* at once, INITIATED by the queue, at its pace."""

from __future__ import annotations

import pytest

from otaconformance.devices import HttpDevice
from otaconformance.target import Target, rule


def test_assignment_writes_queued_and_target_telemetry(target: Target, profile: str) -> None:
    package = target.package(profile, b"image" * 100)
    device, _ = target.device(profile)
    device_id = device["id"]["id"]
    target.assign(device, package)
    states = [value for _, value in target.telemetry(device_id, "fw_state")]
    assert "QUEUED" in states, rule("§2.2", "assignment writes fw_state=QUEUED at once")
    titles = [value for _, value in target.telemetry(device_id, "target_fw_title")]
    assert titles and titles[-1] == package["title"], rule(
        "§2.2", "assignment writes target_fw_title"
    )
    target.notified(device_id, package)
    states = [value for _, value in target.telemetry(device_id, "fw_state")]
    assert "INITIATED" in states, rule("§4.4", "the queue writes fw_state=INITIATED")
    shared = target.shared(device_id)
    assert shared["fw_version"] == package["version"]
    assert isinstance(shared["fw_size"], int), rule("§2.1", "fw_size is a JSON number")
    assert shared["fw_checksum_algorithm"] == "SHA256" and shared["fw_checksum"]


def test_the_pace_is_kept(target: Target, profile: str) -> None:
    size, interval = target.pack_size, target.pack_interval_ms
    if size > 20 or interval > 5000:
        pytest.skip(
            f"a pack of {size} per {interval} ms takes too long to check here; run "
            "against a target with a small pace and give --pack-size/--pack-interval-ms"
        )
    devices = [target.device(profile)[0] for _ in range(2 * size + 1)]
    target.assign_profile(profile, target.package(profile, b"paced" * 100))
    try:

        def times() -> list[int]:
            return sorted(
                ts
                for d in devices
                for ts, value in target.telemetry(d["id"]["id"], "fw_state")
                if value == "INITIATED"
            )

        target.wait(lambda: len(times()) >= len(devices), "every device INITIATED")
        found = times()
        for first, later in zip(found, found[size:], strict=False):
            assert later - first >= interval, rule(
                "§4.3", f"at most {size} notifications per {interval} ms"
            )
    finally:
        target.assign_profile(profile, None)


@pytest.mark.otakit_extension
def test_devices_already_on_target_are_not_notified(target: Target, profile: str) -> None:
    package = target.package(profile, b"current" * 100)
    device, token = target.device(profile)
    http = HttpDevice(target.url, token)
    try:
        http.post(
            "telemetry",
            {"current_fw_title": package["title"], "current_fw_version": package["version"]},
        )
    finally:
        http.close()
    target.assign(device, package)
    states = [value for _, value in target.telemetry(device["id"]["id"], "fw_state")]
    assert states == [], rule("user guide", "a device already on the package is not notified")
