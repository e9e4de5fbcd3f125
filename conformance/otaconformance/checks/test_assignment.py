"""Spec §4.1 and §4.5: the effective package, and which assignments are refused."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from otaclient import protocol as wire

from otaconformance.assigning import (
    announcement,
    downloaded,
    kind_keys,
    queued,
    target_titles,
)
from otaconformance.devices import MqttDevice
from otaconformance.rules import KIND_TYPES, TRANSPORTS, Transport
from otaconformance.target import FIRMWARE, KINDS, SOFTWARE, Entity, Kind, Target, rule

kinds = pytest.mark.parametrize("kind", KINDS, ids=str)
HIDDEN = (403, 404)  # ThingsBoard says 403 for another tenant's entity, otakit 404


@pytest.mark.rules("assignment.own-wins", "assignment.profile-fallback")
@pytest.mark.parametrize("transport", TRANSPORTS, ids=str)
@kinds
def test_a_devices_own_package_overrides_its_profiles(
    target: Target, profile: str, kind: Kind, transport: Transport
) -> None:
    own = target.package(profile, b"own" * 100, kind=kind)
    profiles = target.package(profile, b"prof" * 100, kind=kind)
    device, token = target.device(profile, **{kind.field: own["id"]})
    assert target.assign_profile(profile, profiles).status_code == 200
    got = downloaded(target, transport, token, kind, own)
    assert got == b"own" * 100, rule(
        "assignment.own-wins", f"{transport.value}: the device's own package, got {got!r:.40}"
    )
    got = downloaded(target, transport, token, kind, profiles)
    assert got != b"prof" * 100, rule(
        "assignment.own-wins",
        f"{transport.value}: the profile's package is not the effective one of a device with "
        "its own, yet it was served",
    )
    target.assign(device, None, kind)
    got = downloaded(target, transport, token, kind, profiles)
    assert got == b"prof" * 100, rule(
        "assignment.profile-fallback",
        f"{transport.value}: without its own package a device gets its profile's, got {got!r:.40}",
    )


@pytest.mark.rules("assignment.profile-fallback", "queue.on-change")
@kinds
def test_clearing_the_own_package_queues_the_profiles(
    target: Target, profile: str, kind: Kind
) -> None:
    own = target.package(profile, b"own" * 10, kind=kind)
    profiles = target.package(profile, b"prof" * 10, kind=kind)
    assert target.assign_profile(profile, profiles).status_code == 200
    device, token = target.device(profile, **{kind.field: own["id"]})
    device_id = device["id"]["id"]
    target.notified(device_id, own)
    before = len(queued(target, device_id, kind))
    with MqttDevice(target.mqtt_host, target.mqtt_port, token) as mqtt:
        mqtt.subscribe(wire.ATTRIBUTES_TOPIC)
        target.assign(device, None, kind)
        assert len(queued(target, device_id, kind)) == before + 1, rule(
            "assignment.profile-fallback", "clearing the own package queues the profile's"
        )
        assert target_titles(target, device_id, kind)[-1:] == [profiles["title"]], rule(
            "assignment.profile-fallback", "the profile's package is the new target"
        )
        updates: list[dict[str, Any]] = []
        while not any(update.get(kind.key("title")) for update in updates):
            message = mqtt.expect(wire.ATTRIBUTES_TOPIC, timeout=target.notify_timeout)
            assert message is not None, rule(
                "assignment.profile-fallback", f"the profile's package is announced: {updates}"
            )
            updates.append(json.loads(message.payload))
    deletions = [update for update in updates if kind.key("title") in update.get("deleted", [])]
    assert not deletions, rule(
        "assignment.profile-fallback",
        f"clearing the own package falls back to the profile's, it does not delete: {updates}",
    )
    shared = kind_keys(target.shared(device_id), kind)
    assert shared == announcement(profiles, kind), rule(
        "assignment.profile-fallback", f"the attributes announce the profile's package: {shared}"
    )


@pytest.mark.rules("assignment.types-apart", kinds=KIND_TYPES)
def test_firmware_and_software_are_assigned_apart(target: Target, profile: str) -> None:
    firmware = target.package(profile, b"firmware" * 10)
    software = target.package(profile, b"software" * 10, kind=SOFTWARE)
    device, token = target.device(profile, firmwareId=firmware["id"], softwareId=software["id"])

    def served(package: Entity, kind: Kind) -> bytes | None:
        return downloaded(target, Transport.HTTP, token, kind, package)

    assert served(firmware, FIRMWARE) == b"firmware" * 10, rule(
        "assignment.types-apart", "/firmware serves the firmware"
    )
    assert served(software, SOFTWARE) == b"software" * 10, rule(
        "assignment.types-apart", "/software serves the software"
    )
    target.assign(device, None, FIRMWARE)
    assert served(software, SOFTWARE) == b"software" * 10, rule(
        "assignment.types-apart", "unassigning the firmware leaves the software assigned"
    )
    target.assign(device, firmware)
    target.assign(device, None, SOFTWARE)
    assert served(firmware, FIRMWARE) == b"firmware" * 10, rule(
        "assignment.types-apart", "unassigning the software leaves the firmware assigned"
    )


@pytest.mark.rules(
    "assignment.profile-fallback",
    "queue.on-change",
    "queue.removed-when-none",
    "assignment.other-profile-refused",
    "assignment.refusal-changes-nothing",
)
@kinds
def test_moving_a_device_to_another_profile(target: Target, profile: str, kind: Kind) -> None:
    second, bare = target.profile(), target.profile()
    first_package = target.package(profile, b"first" * 10, kind=kind)
    second_package = target.package(second, b"second" * 10, kind=kind)
    target.assign_profile(profile, first_package)
    target.assign_profile(second, second_package)
    device, token = target.device(profile)
    device_id = device["id"]["id"]
    target.save_device(device, deviceProfileId={"entityType": "DEVICE_PROFILE", "id": second})
    got = downloaded(target, Transport.HTTP, token, kind, second_package)
    assert got == b"second" * 10, rule(
        "assignment.profile-fallback", "a device moved to another profile gets that profile's"
    )
    titles = target_titles(target, device_id, kind)
    assert titles[-1:] == [second_package["title"]], rule(
        "queue.on-change", f"moving a device to a profile with another package queues it: {titles}"
    )
    target.notified(device_id, second_package)
    count = len(queued(target, device_id, kind))
    target.save_device(device, deviceProfileId={"entityType": "DEVICE_PROFILE", "id": bare})
    assert len(queued(target, device_id, kind)) == count, rule(
        "queue.removed-when-none", "a move to a profile without a package queues nothing"
    )
    left = kind_keys(target.shared(device_id), kind)
    assert not left, rule(
        "queue.removed-when-none",
        f"a move to a profile without a package deletes the shared keys: {left}",
    )
    # A device whose own package is of its profile cannot move with it to another profile: the
    # package's profile must be the device's on every save (§4.5).
    keeper, _ = target.device(profile, **{kind.field: first_package["id"]})
    current = target.call("GET", f"/api/device/{keeper['id']['id']}")
    moved = target.http.post(
        "/api/device",
        json={**current, "deviceProfileId": {"entityType": "DEVICE_PROFILE", "id": second}},
    )
    assert moved.status_code == 400, rule(
        "assignment.other-profile-refused",
        f"a device moved with its own package to another profile: got {moved.status_code}",
    )
    still = target.call("GET", f"/api/device/{keeper['id']['id']}")["deviceProfileId"]["id"]
    assert still == profile, rule("assignment.refusal-changes-nothing", "the device moved anyway")


def assignment_refused(
    target: Target, response: httpx.Response, rule_id: str, why: str, where: str
) -> None:
    assert response.status_code == 400, rule(
        rule_id, f"{why} cannot be assigned to a {where} (400), got {response.status_code}"
    )


@pytest.mark.rules(
    "assignment.no-data-refused",
    "assignment.wrong-type-refused",
    "assignment.other-profile-refused",
    "assignment.unknown-package-refused",
    "assignment.refusal-changes-nothing",
)
@kinds
def test_unassignable_packages_are_refused(target: Target, profile: str, kind: Kind) -> None:
    other_kind = SOFTWARE if kind is FIRMWARE else FIRMWARE
    other = target.profile()
    mine = target.package(profile, b"mine" * 10, kind=kind)
    profiles = target.package(profile, b"profiles" * 10, kind=kind)
    assert target.assign_profile(profile, profiles).status_code == 200
    device, _ = target.device(profile, **{kind.field: mine["id"]})
    follower, _ = target.device(profile)  # follows the profile's package
    device_id, follower_id = device["id"]["id"], follower["id"]["id"]
    before = [queued(target, one, kind) for one in (device_id, follower_id)]
    different = f"Can't assign {kind.type.lower()} with different deviceProfile!"
    for package, rule_id, why in (
        (
            target.package_info(profile, kind),
            "assignment.no-data-refused",
            "a package without data",
        ),
        (
            target.package(profile, b"other type", kind=other_kind),
            "assignment.wrong-type-refused",
            f"a {other_kind.type} package as {kind.field}",
        ),
        (
            target.package(other, b"x", kind=kind),
            "assignment.other-profile-refused",
            "a package of another profile",
        ),
        (
            {"id": {"entityType": "OTA_PACKAGE", "id": str(uuid.uuid4())}},
            "assignment.unknown-package-refused",
            "a package id that names no package",
        ),
    ):
        current = target.call("GET", f"/api/device/{device_id}")
        response = target.http.post("/api/device", json={**current, kind.field: package["id"]})
        assignment_refused(target, response, rule_id, why, "device")
        if rule_id == "assignment.other-profile-refused":
            assert different in response.text, rule(rule_id, f"device: {response.text[:200]}")
        response = target.assign_profile(profile, package, kind)
        assignment_refused(target, response, rule_id, why, "profile")
        if rule_id == "assignment.other-profile-refused":
            assert different in response.text, rule(rule_id, f"profile: {response.text[:200]}")
    assert target.call("GET", f"/api/device/{device_id}")[kind.field] == mine["id"], rule(
        "assignment.refusal-changes-nothing", "the device keeps its package"
    )
    assert target.call("GET", f"/api/deviceProfile/{profile}")[kind.field] == profiles["id"], rule(
        "assignment.refusal-changes-nothing", "the profile keeps its package"
    )
    after = [queued(target, one, kind) for one in (device_id, follower_id)]
    assert after == before, rule(
        "assignment.refusal-changes-nothing",
        f"nothing is queued (the device, a follower of the profile): {before}, then {after}",
    )
