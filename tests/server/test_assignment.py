"""Assigning packages to devices and device profiles (spec §4.5, §7)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import TenantContext
from tests.support.api import assert_error, entity_id


def package(
    tenant: TenantContext,
    package_type: str = "FIRMWARE",
    data: bytes | None = b"img",
    profile_id: str | None = None,
) -> dict[str, Any]:
    created = tenant.api.create_package(
        profile_id or tenant.default_profile_id, f"p-{uuid.uuid4().hex[:6]}", "1.0", package_type
    )
    if data is not None:
        created = tenant.api.upload(created["id"]["id"], data)
    return created


def ota(pkg: dict[str, Any]) -> dict[str, str]:
    return entity_id("OTA_PACKAGE", pkg["id"]["id"])


def test_assign_firmware_and_software_to_a_device(tenant: TenantContext) -> None:
    firmware, software = package(tenant), package(tenant, "SOFTWARE")
    device = tenant.api.create_device("d1", tenant.default_profile_id)
    saved = tenant.api.post(
        "/api/device", {**device, "firmwareId": ota(firmware), "softwareId": ota(software)}
    )
    assert saved["firmwareId"] == ota(firmware) and saved["softwareId"] == ota(software)
    stored = tenant.api.get(f"/api/device/{device['id']['id']}")
    assert stored["firmwareId"] == ota(firmware) and stored["softwareId"] == ota(software)


def test_assign_when_creating_a_device(tenant: TenantContext) -> None:
    firmware = package(tenant)
    device = tenant.api.create_device("d1", tenant.default_profile_id, firmwareId=ota(firmware))
    assert device["firmwareId"] == ota(firmware)


@pytest.mark.parametrize("how", ["null", "missing"])
def test_unassign_with_null_or_a_missing_field(tenant: TenantContext, how: str) -> None:
    firmware = package(tenant)
    device = tenant.api.create_device("d1", tenant.default_profile_id, firmwareId=ota(firmware))
    body = (
        {**device, "firmwareId": None}
        if how == "null"
        else {k: v for k, v in device.items() if k != "firmwareId"}
    )
    assert tenant.api.post("/api/device", body)["firmwareId"] is None
    assert tenant.api.get(f"/api/device/{device['id']['id']}")["firmwareId"] is None


def test_assign_to_a_profile(tenant: TenantContext) -> None:
    firmware = package(tenant)
    profile = tenant.api.get(f"/api/deviceProfile/{tenant.default_profile_id}")
    saved = tenant.api.post("/api/deviceProfile", {**profile, "firmwareId": ota(firmware)})
    assert saved["firmwareId"] == ota(firmware)
    assert saved["profileData"] == profile["profileData"]
    cleared = tenant.api.post("/api/deviceProfile", {**saved, "firmwareId": None})
    assert cleared["firmwareId"] is None


@pytest.mark.parametrize(
    ("field", "make", "message"),
    [
        (
            "firmwareId",
            lambda t: package(t, "SOFTWARE"),
            "Can't assign firmware with type: SOFTWARE",
        ),
        (
            "softwareId",
            lambda t: package(t, "FIRMWARE"),
            "Can't assign software with type: FIRMWARE",
        ),
        ("firmwareId", lambda t: package(t, data=None), "Can't assign firmware with empty data!"),
        (
            "firmwareId",
            lambda t: package(t, profile_id=t.api.create_profile("other")["id"]["id"]),
            "Can't assign firmware with different deviceProfile!",
        ),
    ],
)
def test_unassignable_packages_are_refused(
    tenant: TenantContext,
    field: str,
    make: Callable[[TenantContext], dict[str, Any]],
    message: str,
) -> None:
    bad = make(tenant)
    device = tenant.api.create_device("d1", tenant.default_profile_id)
    assert_error(
        tenant.api.http.post("/api/device", json={**device, field: ota(bad)}), 400, message
    )
    assert tenant.api.get(f"/api/device/{device['id']['id']}")[field] is None
    profile = tenant.api.get(f"/api/deviceProfile/{tenant.default_profile_id}")
    assert_error(
        tenant.api.http.post("/api/deviceProfile", json={**profile, field: ota(bad)}), 400, message
    )
    assert tenant.api.get(f"/api/deviceProfile/{tenant.default_profile_id}")[field] is None


def test_creating_a_device_with_an_unassignable_package_creates_nothing(
    tenant: TenantContext,
) -> None:
    empty = package(tenant, data=None)
    response = tenant.api.http.post(
        "/api/device",
        json={"name": "nope", "firmwareId": ota(empty)},
    )
    assert_error(response, 400, "empty data")
    page = tenant.api.get("/api/tenant/devices", params={"pageSize": 10, "page": 0})
    assert page["totalElements"] == 0


def test_another_tenants_package_cannot_be_assigned(
    tenant: TenantContext, new_tenant: Callable[[], TenantContext]
) -> None:
    foreign = package(new_tenant())
    device = tenant.api.create_device("d1", tenant.default_profile_id)
    assert_error(
        tenant.api.http.post("/api/device", json={**device, "firmwareId": ota(foreign)}),
        400,
        "non-existent",
    )


def test_moving_a_device_keeps_its_package_only_if_it_fits_the_new_profile(
    tenant: TenantContext,
) -> None:
    firmware = package(tenant)
    device = tenant.api.create_device("d1", tenant.default_profile_id, firmwareId=ota(firmware))
    other = tenant.api.create_profile("other")
    response = tenant.api.http.post("/api/device", json={**device, "deviceProfileId": other["id"]})
    assert_error(response, 400, "different deviceProfile")
    moved = tenant.api.post(
        "/api/device", {**device, "deviceProfileId": other["id"], "firmwareId": None}
    )
    assert moved["deviceProfileId"] == other["id"] and moved["type"] == "other"


def test_a_package_can_be_assigned_to_many_devices_and_the_profile(tenant: TenantContext) -> None:
    firmware = package(tenant)
    for index in range(3):
        tenant.api.create_device(f"d{index}", tenant.default_profile_id, firmwareId=ota(firmware))
    profile = tenant.api.get(f"/api/deviceProfile/{tenant.default_profile_id}")
    tenant.api.post("/api/deviceProfile", {**profile, "firmwareId": ota(firmware)})
    devices = tenant.api.get("/api/tenant/devices", params={"pageSize": 10, "page": 0})
    assert {d["firmwareId"]["id"] for d in devices["data"]} == {firmware["id"]["id"]}
