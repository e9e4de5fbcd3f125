"""Spec §4.1, §4.2 and §4.5: assignment and the effective package."""

from __future__ import annotations

from otaconformance.devices import HttpDevice
from otaconformance.target import FIRMWARE, SOFTWARE, Entity, Kind, Target, rule


def served(target: Target, token: str, package: Entity, kind: Kind = FIRMWARE) -> bytes | None:
    """What the device downloads over HTTP when it asks for `package`, or None if refused."""
    with HttpDevice(target.url, token) as http:
        response = http.get(kind.path, title=package["title"], version=package["version"])
    return response.content if response.status_code == 200 else None


def test_a_devices_own_package_overrides_its_profiles(target: Target, profile: str) -> None:
    own, profiles = target.package(profile, b"own" * 100), target.package(profile, b"prof" * 100)
    device, token = target.device(profile, firmwareId=own["id"])
    target.assign_profile(profile, profiles)
    assert served(target, token, own) == b"own" * 100, rule(
        "§4.1", "the device's own package wins over its profile's"
    )
    assert served(target, token, profiles) is None, rule(
        "§4.1", "the profile's package is not the effective one of a device with its own"
    )
    target.assign(device, None)
    assert served(target, token, profiles) == b"prof" * 100, rule(
        "§4.1", "without its own package a device gets its profile's"
    )


def test_unassignable_packages_are_refused(target: Target, profile: str) -> None:
    other = target.profile()
    device, _ = target.device(profile)
    for package, kind, why in (
        (target.package_info(profile), FIRMWARE, "a package without data"),
        (target.package(profile, b"sw", kind=SOFTWARE), FIRMWARE, "a SOFTWARE package as firmware"),
        (target.package(profile, b"fw"), SOFTWARE, "a FIRMWARE package as software"),
        (target.package(other, b"x"), FIRMWARE, "a package of another profile"),
    ):
        current = target.call("GET", f"/api/device/{device['id']['id']}")
        response = target.http.post("/api/device", json={**current, kind.field: package["id"]})
        assert response.status_code == 400, rule(
            "§4.5", f"{why} cannot be assigned to a device (400), got {response.status_code}"
        )
        response = target.assign_profile(profile, package, kind)
        assert response.status_code == 400, rule(
            "§4.5", f"{why} cannot be assigned to a profile (400), got {response.status_code}"
        )
    assert target.call("GET", f"/api/device/{device['id']['id']}")["firmwareId"] is None, rule(
        "§4.5", "a refused assignment changes nothing"
    )


def test_firmware_and_software_are_assigned_apart(target: Target, profile: str) -> None:
    firmware = target.package(profile, b"firmware" * 10)
    software = target.package(profile, b"software" * 10, kind=SOFTWARE)
    device, token = target.device(profile, firmwareId=firmware["id"], softwareId=software["id"])
    assert served(target, token, firmware) == b"firmware" * 10, rule(
        "§6.3", "/firmware serves the firmware"
    )
    assert served(target, token, software, SOFTWARE) == b"software" * 10, rule(
        "§6.3", "/software serves the software"
    )
    target.assign(device, None, FIRMWARE)
    assert served(target, token, software, SOFTWARE) == b"software" * 10, rule(
        "§4.1", "unassigning the firmware leaves the software assigned"
    )


def test_moving_a_device_to_another_profile(target: Target, profile: str) -> None:
    second = target.profile()
    first_package = target.package(profile, b"first" * 10)
    second_package = target.package(second, b"second" * 10)
    target.assign_profile(profile, first_package)
    target.assign_profile(second, second_package)
    device, token = target.device(profile)
    target.save_device(device, deviceProfileId={"entityType": "DEVICE_PROFILE", "id": second})
    assert served(target, token, second_package) == b"second" * 10, rule(
        "§4.1", "a device moved to another profile gets that profile's package"
    )
    titles = [value for _, value in target.telemetry(device["id"]["id"], "target_fw_title")]
    assert titles[-1:] == [second_package["title"]], rule(
        "§4.2", f"moving a device to a profile with another package queues it: {titles}"
    )
