"""Devices, credentials, customers, device profiles and tenants through the REST API."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from pathlib import Path

from tests.conftest import TenantContext
from tests.support.api import Api, assert_error, entity_id

NULL_CUSTOMER = {"entityType": "CUSTOMER", "id": "13814000-1dd2-11b2-8080-808080808080"}


def test_device_with_its_access_token(tenant: TenantContext) -> None:
    device = tenant.api.create_device(
        "sensor-1", tenant.default_profile_id, token="tok-123", label="Hall"
    )
    assert device["name"] == "sensor-1" and device["label"] == "Hall"
    assert device["type"] == "default"
    assert device["customerId"] == NULL_CUSTOMER
    assert device["deviceData"]["configuration"] == {"type": "DEFAULT"}
    credentials = tenant.api.get(f"/api/device/{device['id']['id']}/credentials")
    assert credentials["credentialsType"] == "ACCESS_TOKEN"
    assert credentials["credentialsId"] == "tok-123"
    assert credentials["deviceId"] == device["id"]


def test_device_gets_a_random_token_and_the_default_profile(tenant: TenantContext) -> None:
    device = tenant.api.create_device("plain")
    assert device["deviceProfileId"] == entity_id("DEVICE_PROFILE", tenant.default_profile_id)
    token = tenant.api.get(f"/api/device/{device['id']['id']}/credentials")["credentialsId"]
    assert len(token) >= 16


def test_device_type_names_its_profile(tenant: TenantContext) -> None:
    device = tenant.api.create_device("typed", type="thermostat")
    profiles = tenant.api.get("/api/deviceProfiles", params={"pageSize": 10, "page": 0})
    by_name = {p["name"]: p for p in profiles["data"]}
    assert device["deviceProfileId"] == by_name["thermostat"]["id"]


def test_names_and_tokens_are_unique(tenant: TenantContext) -> None:
    tenant.api.create_device("one", token="shared-token")
    assert_error(
        tenant.api.http.post("/api/device", json={"name": "one"}),
        400,
        "Device with such name already exists!",
    )
    response = tenant.api.http.post(
        "/api/device", json={"name": "two"}, params={"accessToken": "shared-token"}
    )
    assert_error(response, 400, "already assigned to another device")
    page = tenant.api.get("/api/tenant/devices", params={"pageSize": 10, "page": 0})
    assert [d["name"] for d in page["data"]] == ["one"]


def test_bad_access_token_is_refused(tenant: TenantContext) -> None:
    response = tenant.api.http.post(
        "/api/device", json={"name": "x"}, params={"accessToken": "has space"}
    )
    assert_error(response, 400, "Access token")


def test_change_credentials(tenant: TenantContext) -> None:
    device = tenant.api.create_device("d", token="old-token")
    credentials = tenant.api.get(f"/api/device/{device['id']['id']}/credentials")
    updated = tenant.api.post(
        "/api/device/credentials", {**credentials, "credentialsId": "new-token"}
    )
    assert updated["credentialsId"] == "new-token"
    other = tenant.api.create_device("e")
    response = tenant.api.http.post(
        "/api/device/credentials",
        json={"deviceId": other["id"], "credentialsId": "new-token"},
    )
    assert_error(response, 400, "already assigned")


def test_device_lookup_listing_and_delete(tenant: TenantContext) -> None:
    for name in ("a-1", "a-2", "b-1"):
        tenant.api.create_device(name)
    found = tenant.api.get("/api/tenant/devices", params={"deviceName": "a-2"})
    assert found["name"] == "a-2"
    page = tenant.api.get(
        "/api/tenant/devices", params={"pageSize": 10, "page": 0, "textSearch": "a-"}
    )
    assert sorted(d["name"] for d in page["data"]) == ["a-1", "a-2"]
    tenant.api.delete(f"/api/device/{found['id']['id']}")
    assert_error(tenant.api.http.get(f"/api/device/{found['id']['id']}"), 404)
    assert_error(tenant.api.http.get("/api/tenant/devices", params={"deviceName": "a-2"}), 404)


def test_assign_device_to_customer_and_back(tenant: TenantContext) -> None:
    customer = tenant.api.post("/api/customer", {"title": "ACME", "email": "ops@acme.test"})
    assert customer["email"] == "ops@acme.test" and customer["name"] == "ACME"
    device = tenant.api.create_device("d")
    assigned = tenant.api.post(f"/api/customer/{customer['id']['id']}/device/{device['id']['id']}")
    assert assigned["customerId"] == customer["id"]
    listed = tenant.api.get(
        f"/api/customer/{customer['id']['id']}/devices", params={"pageSize": 10, "page": 0}
    )
    assert [d["name"] for d in listed["data"]] == ["d"]
    back = tenant.api.request("DELETE", f"/api/customer/device/{device['id']['id']}").json()
    assert back["customerId"] == NULL_CUSTOMER


def test_profiles(tenant: TenantContext) -> None:
    created = tenant.api.create_profile("sensors")
    assert created["default"] is False and created["type"] == "DEFAULT"
    assert created["profileData"]["transportConfiguration"] == {"type": "DEFAULT"}
    assert_error(
        tenant.api.http.post("/api/deviceProfile", json={"name": "sensors"}), 400, "already exists"
    )
    info = tenant.api.get(f"/api/deviceProfileInfo/{created['id']['id']}")
    assert info == {
        "id": created["id"],
        "tenantId": created["tenantId"],
        "name": "sensors",
        "image": None,
        "defaultDashboardId": None,
        "type": "DEFAULT",
        "transportType": "DEFAULT",
    }
    tenant.api.post(f"/api/deviceProfile/{created['id']['id']}/default")
    assert tenant.api.get("/api/deviceProfileInfo/default")["name"] == "sensors"
    old_default = tenant.api.get(f"/api/deviceProfile/{tenant.default_profile_id}")
    assert old_default["default"] is False
    assert_error(
        tenant.api.http.delete(f"/api/deviceProfile/{created['id']['id']}"),
        400,
        "Default Device Profile",
    )


def test_profile_in_use_cannot_be_deleted(tenant: TenantContext) -> None:
    profile = tenant.api.create_profile("busy")
    device = tenant.api.create_device("d", profile["id"]["id"])
    assert_error(
        tenant.api.http.delete(f"/api/deviceProfile/{profile['id']['id']}"),
        400,
        "referenced by the devices",
    )
    tenant.api.delete(f"/api/device/{device['id']['id']}")
    tenant.api.create_package(profile["id"]["id"], "fw", "1")
    assert_error(
        tenant.api.http.delete(f"/api/deviceProfile/{profile['id']['id']}"),
        400,
        "referenced by OTA packages",
    )


def test_profile_keeps_unknown_fields(tenant: TenantContext) -> None:
    body = {
        "name": "custom",
        "transportType": "MQTT",
        "provisionDeviceKey": "pk",
        "profileData": {
            "configuration": {"type": "DEFAULT"},
            "transportConfiguration": {"type": "MQTT", "deviceTelemetryTopic": "v1/t"},
        },
    }
    saved = tenant.api.post("/api/deviceProfile", body)
    stored = tenant.api.get(f"/api/deviceProfile/{saved['id']['id']}")
    assert stored["transportType"] == "MQTT" and stored["provisionDeviceKey"] == "pk"
    assert stored["profileData"] == body["profileData"]


def test_deleting_a_tenant_removes_its_entities_and_package_data(
    sysadmin: Api, tenant: TenantContext, blob_files: Callable[[], list[Path]]
) -> None:
    data = b"tenant image " + uuid.uuid4().bytes
    package = tenant.api.create_package(tenant.default_profile_id, "fw", "1")
    tenant.api.upload(package["id"]["id"], data)
    tenant.api.create_device("d", tenant.default_profile_id, firmwareId=package["id"])
    profile = tenant.api.get(f"/api/deviceProfile/{tenant.default_profile_id}")
    tenant.api.post("/api/deviceProfile", {**profile, "firmwareId": package["id"]})
    assert hashlib.sha256(data).hexdigest() in [p.name for p in blob_files()]
    sysadmin.delete(f"/api/tenant/{tenant.tenant_id}")
    assert_error(sysadmin.http.get(f"/api/tenant/{tenant.tenant_id}"), 404)
    assert hashlib.sha256(data).hexdigest() not in [p.name for p in blob_files()]
    # Its administrators went with it: their tokens are refused at once.
    assert_error(tenant.api.http.get(f"/api/otaPackage/info/{package['id']['id']}"), 401)
