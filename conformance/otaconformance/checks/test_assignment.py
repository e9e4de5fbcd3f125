"""Spec §4.1 and §4.5: assignment and the effective package."""

from __future__ import annotations

from otaconformance.devices import HttpDevice
from otaconformance.target import Target, rule


def test_a_devices_own_package_overrides_its_profiles(target: Target, profile: str) -> None:
    own, profiles = target.package(profile, b"own" * 100), target.package(profile, b"prof" * 100)
    device, token = target.device(profile, firmwareId=own["id"])
    target.assign_profile(profile, profiles)
    http = HttpDevice(target.url, token)
    try:
        response = http.get("firmware", title=own["title"], version=own["version"])
        assert response.status_code == 200 and response.content == b"own" * 100, rule(
            "§4.1", "the device's own package wins over its profile's"
        )
        target.assign(device, None)
        response = http.get("firmware", title=profiles["title"], version=profiles["version"])
        assert response.content == b"prof" * 100, rule(
            "§4.1", "without its own package a device gets its profile's"
        )
    finally:
        http.close()
        target.assign_profile(profile, None)


def test_unassignable_packages_are_refused(target: Target, profile: str) -> None:
    other = target.profile()
    empty = target.package(profile, None)
    software = target.package(profile, b"sw", kind="SOFTWARE")
    foreign = target.package(other, b"x")
    device, _ = target.device(profile)
    for package, why in (
        (empty, "a package without data"),
        (software, "a SOFTWARE package as firmwareId"),
        (foreign, "a package of another profile"),
    ):
        current = target.call("GET", f"/api/device/{device['id']['id']}")
        response = target.http.post("/api/device", json={**current, "firmwareId": package["id"]})
        assert response.status_code == 400, rule("§4.5", f"{why} cannot be assigned (400)")
