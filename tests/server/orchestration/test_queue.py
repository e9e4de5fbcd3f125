"""The throttled notification queue (spec §4.2 to §4.4) and the user guide's exception."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from tests.conftest import TenantContext
from tests.support.api import entity_id
from tests.support.mqtt import MqttDevice
from tests.support.ota import initiated, report, shared, states, wait_for
from tests.support.process import ServerProcess

Start = Callable[..., tuple[ServerProcess, TenantContext]]
FW_KEYS = [
    "fw_title",
    "fw_version",
    "fw_ts",
    "fw_state",
    "fw_size",
    "fw_checksum",
    "fw_checksum_algorithm",
    "fw_url",
    "fw_tag",
]


def profile_with_devices(tenant: TenantContext, count: int) -> tuple[str, list[dict[str, Any]]]:
    profile = tenant.api.create_profile(f"fleet-{uuid.uuid4().hex[:6]}")["id"]["id"]
    devices = [
        tenant.api.create_device(
            f"dev-{i}-{uuid.uuid4().hex[:4]}", profile, token=f"tok-{uuid.uuid4().hex}"
        )
        for i in range(count)
    ]
    return profile, devices


def token_of(tenant: TenantContext, device: dict[str, Any]) -> str:
    credentials = tenant.api.get(f"/api/device/{device['id']['id']}/credentials")
    return str(credentials["credentialsId"])


def package(
    tenant: TenantContext, profile_id: str, version: str = "2.0", title: str = "fleet-fw"
) -> dict[str, Any]:
    created = tenant.api.create_package(profile_id, title, version)
    return tenant.api.upload(created["id"]["id"], f"image {version}".encode())  # type: ignore[no-any-return]


def assign_profile(tenant: TenantContext, profile_id: str, pkg: dict[str, Any] | None) -> None:
    profile = tenant.api.get(f"/api/deviceProfile/{profile_id}")
    tenant.api.post("/api/deviceProfile", {**profile, "firmwareId": pkg["id"] if pkg else None})


def test_profile_assignment_is_paced_and_skips_devices_on_target(paced: Start) -> None:
    _, tenant = paced(5, 1000)
    profile_id, devices = profile_with_devices(tenant, 30)
    target = package(tenant, profile_id)
    up_to_date = devices[:5]
    for device in up_to_date:
        report(
            tenant,
            token_of(tenant, device),
            {"current_fw_title": target["title"], "current_fw_version": target["version"]},
        )
    assign_profile(tenant, profile_id, target)

    queued = [d for d in devices if ("QUEUED" in [v for _, v in states(tenant, d["id"]["id"])])]
    assert len(queued) == 25 and not any(d in queued for d in up_to_date)
    target_title = states(tenant, queued[0]["id"]["id"], "target_fw_title")
    assert target_title and target_title[0][1] == target["title"]

    wait_for(lambda: all(initiated(tenant, d["id"]["id"]) for d in queued), 30, "25 INITIATED")
    times = sorted(ts for d in queued for ts in initiated(tenant, d["id"]["id"]))
    assert len(times) == 25  # each once
    for first, sixth in zip(times, times[5:], strict=False):
        assert sixth - first >= 1000, "more than 5 notifications in one second"
    assert 3_900 <= times[-1] - times[0] <= 7_000
    for device in up_to_date:
        assert states(tenant, device["id"]["id"]) == []
        assert shared(tenant, device["id"]["id"]) == {}
    attributes = shared(tenant, queued[0]["id"]["id"])
    assert attributes["fw_title"] == target["title"] and attributes["fw_size"] == len(b"image 2.0")


def test_a_devices_own_package_overrides_its_profiles(paced: Start) -> None:
    _, tenant = paced(100, 1000)
    profile_id, (own, follower) = profile_with_devices(tenant, 2)
    mine, profiles = package(tenant, profile_id, "1.0-own"), package(tenant, profile_id, "2.0")
    tenant.api.post("/api/device", {**own, "firmwareId": mine["id"]})
    assign_profile(tenant, profile_id, profiles)
    wait_for(lambda: bool(initiated(tenant, follower["id"]["id"])), 10)
    wait_for(lambda: bool(initiated(tenant, own["id"]["id"])), 10)
    assert shared(tenant, own["id"]["id"])["fw_version"] == "1.0-own"
    assert shared(tenant, follower["id"]["id"])["fw_version"] == "2.0"
    assert [v for _, v in states(tenant, own["id"]["id"])] == ["QUEUED", "INITIATED"]


def test_a_reassignment_makes_waiting_entries_stale(paced: Start) -> None:
    _, tenant = paced(1, 1500)
    profile_id, devices = profile_with_devices(tenant, 3)
    first, second = package(tenant, profile_id, "1.0"), package(tenant, profile_id, "2.0")
    assign_profile(tenant, profile_id, first)
    assign_profile(tenant, profile_id, second)
    wait_for(
        lambda: all(shared(tenant, d["id"]["id"]).get("fw_version") == "2.0" for d in devices),
        20,
        "all on 2.0",
    )
    notified = [len(initiated(tenant, d["id"]["id"])) for d in devices]
    # At most the one device whose 1.0 entry came first was told of 1.0; the others only of 2.0.
    assert sorted(notified) in ([1, 1, 1], [1, 1, 2])


def test_unassignment_removes_the_attributes_and_tells_the_device(
    paced: Start,
) -> None:
    server, tenant = paced(100, 1000)
    profile_id, (device,) = profile_with_devices(tenant, 1)
    pkg = package(tenant, profile_id)
    with MqttDevice(server.mqtt_port, token_of(tenant, device)) as mqtt:
        mqtt.subscribe("v1/devices/me/attributes")
        tenant.api.post("/api/device", {**device, "firmwareId": pkg["id"]})
        pushed = json.loads(mqtt.expect("v1/devices/me/attributes").payload)
        assert pushed["fw_title"] == pkg["title"] and pushed["fw_checksum"] == pkg["checksum"]
        tenant.api.post("/api/device", {**device, "firmwareId": None})
        deleted = json.loads(mqtt.expect("v1/devices/me/attributes").payload)
        assert sorted(deleted["deleted"]) == sorted(FW_KEYS)
    assert shared(tenant, device["id"]["id"]) == {}


def test_profile_unassignment_reaches_its_devices(paced: Start) -> None:
    _, tenant = paced(100, 1000)
    profile_id, devices = profile_with_devices(tenant, 2)
    pkg = package(tenant, profile_id)
    assign_profile(tenant, profile_id, pkg)
    wait_for(lambda: all(shared(tenant, d["id"]["id"]) for d in devices), 10)
    assign_profile(tenant, profile_id, None)
    assert all(shared(tenant, d["id"]["id"]) == {} for d in devices)


def test_created_and_moved_devices_are_queued(paced: Start) -> None:
    _, tenant = paced(100, 1000)
    profile_id, _ = profile_with_devices(tenant, 0)
    pkg = package(tenant, profile_id)
    assign_profile(tenant, profile_id, pkg)
    created = tenant.api.create_device("newcomer", profile_id)
    wait_for(lambda: bool(initiated(tenant, created["id"]["id"])), 10)
    mover = tenant.api.create_device("mover", tenant.default_profile_id)
    assert states(tenant, mover["id"]["id"]) == []
    tenant.api.post(
        "/api/device", {**mover, "deviceProfileId": entity_id("DEVICE_PROFILE", profile_id)}
    )
    wait_for(lambda: shared(tenant, mover["id"]["id"]).get("fw_title") == pkg["title"], 10)


def test_an_unassignment_racing_the_worker_leaves_no_attributes(paced: Start) -> None:
    """The worker and an unassignment touch the same device at once, again and again.

    Whoever goes first, the unassigned devices must end with no `fw_*` attributes: the worker may
    not announce a package it read as assigned once the unassignment has removed it.
    """
    server, tenant = paced(100000, 1000)  # no pace: the worker takes each record at once
    profile_id, devices = profile_with_devices(tenant, 3)
    pkg = package(tenant, profile_id)
    for _ in range(30):
        assign_profile(tenant, profile_id, pkg)  # a 500 here if the database aborted the save
        assign_profile(tenant, profile_id, None)
    time.sleep(2)  # the worker finishes (or skips) what is left of the queue
    announced = [d["name"] for d in devices if "fw_title" in shared(tenant, d["id"]["id"])]
    assert announced == [], f"unassigned devices still announce the package: {announced}"
    # Nor may the two lock each other out: a deadlock aborts one side, here the worker's record.
    assert "queue worker failed" not in server.log(), server.log()[-3000:]
