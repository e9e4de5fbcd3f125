"""Spec §2, §4.2 to §4.4: QUEUED and target_* at once, INITIATED by the queue, at its pace."""

from __future__ import annotations

import pytest

from otaconformance.devices import HttpDevice
from otaconformance.target import KINDS, Kind, Target, rule


def slow_pace(target: Target) -> None:
    if not target.pace_is_checkable:
        pytest.skip(
            f"a pack of {target.pack_size} per {target.pack_interval_ms} ms takes too long to "
            "watch here; run against a target with a small pace and give "
            "--pack-size/--pack-interval-ms"
        )


@pytest.mark.parametrize("kind", KINDS, ids=str)
def test_assignment_writes_queued_and_target_telemetry(
    target: Target, profile: str, kind: Kind
) -> None:
    package = target.package(profile, b"image" * 100, kind=kind, tag="release tag")
    device, _ = target.device(profile)
    device_id = device["id"]["id"]
    target.assign(device, package)
    queued = [ts for ts, value in target.telemetry(device_id, kind.state) if value == "QUEUED"]
    assert len(queued) == 1, rule("§2.2", f"assignment writes {kind.state}=QUEUED at once")
    for suffix, value in (
        ("title", package["title"]),
        ("version", package["version"]),
        ("tag", package["tag"]),
        ("ts", queued[0]),
    ):
        key = f"target_{kind.key(suffix)}"
        # The REST API gives time-series values as text, as ThingsBoard's does.
        assert target.telemetry(device_id, key) == [(queued[0], str(value))], rule(
            "§2.2", f"assignment writes {key}={value!r} at the time of QUEUED"
        )
    target.notified(device_id, package)
    points = target.telemetry(device_id, kind.state)
    initiated = [ts for ts, value in points if value == "INITIATED"]
    assert len(initiated) == 1 and initiated[0] >= queued[0], rule(
        "§4.4", f"the queue writes {kind.state}=INITIATED once, after QUEUED: {points}"
    )
    shared = target.shared(device_id)
    expected = {
        kind.key("title"): package["title"],
        kind.key("version"): package["version"],
        kind.key("tag"): package["tag"],
        kind.key("size"): package["dataSize"],
        kind.key("checksum"): package["checksum"],
        kind.key("checksum_algorithm"): package["checksumAlgorithm"],
    }
    assert shared == expected, rule(
        "§2.1", f"the shared attributes announce the package, fw_size a JSON number: {shared}"
    )


def test_a_profile_assignment_skips_devices_with_their_own(target: Target, profile: str) -> None:
    own = target.package(profile, b"own" * 10)
    follower, _ = target.device(profile)
    keeper, _ = target.device(profile, firmwareId=own["id"])
    before = target.telemetry(keeper["id"]["id"], "fw_state")
    profiles = target.package(profile, b"profile" * 10)
    target.assign_profile(profile, profiles)
    titles = [value for _, value in target.telemetry(follower["id"]["id"], "target_fw_title")]
    assert titles == [profiles["title"]], rule(
        "§4.2", "a profile's new package is queued for its devices without their own"
    )
    after = target.telemetry(keeper["id"]["id"], "fw_state")
    assert after[: len(before)] == before and "QUEUED" not in [
        v for _, v in after[len(before) :]
    ], rule("§4.2", "a profile's new package skips the devices that have their own")


def test_saving_a_device_unchanged_queues_nothing(target: Target, profile: str) -> None:
    package = target.package(profile, b"same" * 10)
    device, _ = target.device(profile, firmwareId=package["id"])
    target.save_device(device, label="relabelled")
    target.assign(device, package)
    states = target.states(device["id"]["id"])
    assert states.count("QUEUED") == 1, rule(
        "§4.2", f"a device saved with the same effective package is not queued again: {states}"
    )


def test_a_stale_record_is_skipped(target: Target, profile: str) -> None:
    slow_pace(target)
    other = target.profile()
    late = target.package(other, b"late" * 10)
    device, _ = target.device(other)
    burst = [target.device(profile)[0]["id"]["id"] for _ in range(2 * target.pack_size)]
    target.assign_profile(profile, target.package(profile, b"burst" * 10))
    target.assign(device, late)  # behind two whole packs: it waits two intervals at least
    target.assign(device, None)  # and goes stale before its turn
    target.drained(burst)
    device_id = device["id"]["id"]
    assert "INITIATED" not in target.states(device_id), rule(
        "§4.4", "a queued record whose package is no longer the device's is skipped (INITIATED)"
    )
    assert "fw_title" not in target.shared(device_id), rule(
        "§4.4", "a queued record whose package is no longer the device's is skipped (attributes)"
    )


def test_the_pace_is_kept(target: Target, profile: str) -> None:
    slow_pace(target)
    size, interval = target.pack_size, target.pack_interval_ms
    devices = [target.device(profile)[0]["id"]["id"] for _ in range(2 * size + 1)]
    target.assign_profile(profile, target.package(profile, b"paced" * 100))

    def times() -> list[int]:
        return sorted(
            ts
            for device_id in devices
            for ts, value in target.telemetry(device_id, "fw_state")
            if value == "INITIATED"
        )

    target.wait(lambda: len(times()) >= len(devices), "every device INITIATED")
    found = times()
    for first, later in zip(found, found[size:], strict=False):
        assert later - first >= interval, rule(
            "§4.3", f"at most {size} notifications per {interval} ms"
        )


@pytest.mark.otakit_extension
def test_devices_already_on_target_are_not_notified(target: Target, profile: str) -> None:
    package = target.package(profile, b"current" * 100)
    device, token = target.device(profile)
    with HttpDevice(target.url, token) as http:
        http.post(
            "telemetry",
            {"current_fw_title": package["title"], "current_fw_version": package["version"]},
        )
    target.assign(device, package)
    assert target.states(device["id"]["id"]) == [], rule(
        "user guide", "a device already on the package is not notified"
    )
