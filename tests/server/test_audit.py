"""The audit log records package actions and every assignment, failed ones too."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import TenantContext
from tests.support.api import Api, entity_id
from tests.support.process import ServerProcess


def logs(tenant: TenantContext, **params: Any) -> list[dict[str, Any]]:
    page = tenant.api.get(
        "/api/audit/logs", params={"pageSize": 100, "page": 0, "sortOrder": "ASC", **params}
    )
    return page["data"]  # type: ignore[no-any-return]


def test_package_lifecycle_is_audited(tenant: TenantContext) -> None:
    package = tenant.api.create_package(tenant.default_profile_id, "fw", "1.0")
    pid = package["id"]["id"]
    tenant.api.upload(pid, b"data", "CRC32")
    tenant.api.upload(pid, b"again", expect=400)
    tenant.api.delete(f"/api/otaPackage/{pid}")
    entries = tenant.api.get(
        f"/api/audit/logs/entity/OTA_PACKAGE/{pid}",
        params={"pageSize": 10, "page": 0, "sortOrder": "ASC"},
    )["data"]
    summary = [(e["actionType"], e["actionStatus"]) for e in entries]
    assert summary == [
        ("ADDED", "SUCCESS"),
        ("OTA_PACKAGE_UPLOADED", "SUCCESS"),
        ("OTA_PACKAGE_UPLOADED", "FAILURE"),
        ("DELETED", "SUCCESS"),
    ]
    for entry in entries:
        assert entry["userName"] == tenant.admin_email
        assert entry["entityId"] == entity_id("OTA_PACKAGE", pid)
        assert entry["entityName"] == "fw"
        assert isinstance(entry["createdTime"], int)
    assert entries[1]["actionData"]["checksumAlgorithm"] == "CRC32"
    assert entries[1]["actionData"]["dataSize"] == 4
    assert "prohibited" in entries[2]["actionFailureDetails"]


def test_assignments_are_audited_with_their_outcome(tenant: TenantContext) -> None:
    package = tenant.api.upload(
        tenant.api.create_package(tenant.default_profile_id, "fw", "1.0")["id"]["id"], b"x"
    )
    empty = tenant.api.create_package(tenant.default_profile_id, "fw", "2.0")
    device = tenant.api.create_device("d1", tenant.default_profile_id)
    tenant.api.post("/api/device", {**device, "firmwareId": package["id"]})
    tenant.api.post("/api/device", {**device, "firmwareId": empty["id"]}, expect=400)
    tenant.api.post("/api/device", {**device, "firmwareId": None})
    profile = tenant.api.get(f"/api/deviceProfile/{tenant.default_profile_id}")
    tenant.api.post("/api/deviceProfile", {**profile, "firmwareId": package["id"]})

    kinds = "OTA_PACKAGE_ASSIGNED,OTA_PACKAGE_UNASSIGNED"
    entries = logs(tenant, actionTypes=kinds)
    summary = [
        (
            e["entityId"]["entityType"],
            e["actionType"],
            e["actionStatus"],
            e["actionData"].get("firmwareId"),
        )
        for e in entries
    ]
    pid, eid = package["id"]["id"], empty["id"]["id"]
    assert summary == [
        ("DEVICE", "OTA_PACKAGE_ASSIGNED", "SUCCESS", pid),
        ("DEVICE", "OTA_PACKAGE_ASSIGNED", "FAILURE", eid),
        ("DEVICE", "OTA_PACKAGE_UNASSIGNED", "SUCCESS", None),
        ("DEVICE_PROFILE", "OTA_PACKAGE_ASSIGNED", "SUCCESS", pid),
    ]
    assert entries[1]["actionFailureDetails"] == "Can't assign firmware with empty data!"
    assert entries[2]["actionData"]["previousFirmwareId"] == pid


def test_customer_assignment_names_the_customer_user(tenant: TenantContext) -> None:
    user, customer_id = tenant.new_customer_user()
    device = tenant.api.create_device("d", tenant.default_profile_id)
    tenant.api.post(f"/api/customer/{customer_id}/device/{device['id']['id']}")
    package = tenant.api.upload(
        tenant.api.create_package(tenant.default_profile_id, "fw", "1.0")["id"]["id"], b"x"
    )
    user.post(
        "/api/device",
        {**user.get(f"/api/device/{device['id']['id']}"), "firmwareId": package["id"]},
    )
    me = user.get("/api/auth/user")
    [entry] = logs(tenant, actionTypes="OTA_PACKAGE_ASSIGNED")
    assert entry["userName"] == me["email"]
    assert entry["customerId"] == entity_id("CUSTOMER", customer_id)
    newest_first = {"pageSize": 10, "page": 0, "sortOrder": "DESC"}
    mine = user.get("/api/audit/logs", params=newest_first)["data"]
    # The customer user sees their own entries: their login and their assignment.
    assert [(e["actionType"], e["userName"]) for e in mine] == [
        ("OTA_PACKAGE_ASSIGNED", me["email"]),
        ("LOGIN", me["email"]),
    ]
    assert mine[0]["id"] == entry["id"]


def test_time_window_and_paging(tenant: TenantContext) -> None:
    for index in range(3):
        tenant.api.create_device(f"d{index}")
    everything = logs(tenant, actionTypes="ADDED")
    assert len(everything) == 3
    middle = everything[1]["createdTime"]
    later = logs(tenant, startTime=middle, actionTypes="ADDED")
    assert [e["entityName"] for e in later] == ["d1", "d2"]
    page = tenant.api.get(
        "/api/audit/logs", params={"pageSize": 2, "page": 0, "actionTypes": "ADDED"}
    )
    assert page["totalElements"] == 3 and page["hasNext"] is True


def test_logins_are_audited_with_their_outcome_and_address(
    server: ServerProcess, tenant: TenantContext
) -> None:
    wrong = httpx.post(
        server.url + "/api/auth/login",
        json={"username": tenant.admin_email, "password": "not-it"},
    )
    assert wrong.status_code == 401
    # A name no account has is written nowhere.
    nobody = {"username": "nobody@otakit.test", "password": "x"}
    assert httpx.post(server.url + "/api/auth/login", json=nobody).status_code == 401
    Api.login(server.url, tenant.admin_email, "tenant-password")
    entries = logs(tenant, actionTypes="LOGIN")
    summary = [(e["actionStatus"], e["entityName"], e["actionFailureDetails"]) for e in entries]
    # Oldest first: the fixture's own login, the failure, the login just now.
    assert summary == [
        ("SUCCESS", tenant.admin_email, None),
        ("FAILURE", tenant.admin_email, "Invalid username or password"),
        ("SUCCESS", tenant.admin_email, None),
    ]
    assert entries[2]["createdTime"] > entries[1]["createdTime"] > entries[0]["createdTime"]
    assert entries[2]["entityId"]["entityType"] == "USER"
    assert entries[2]["actionData"]["clientAddress"] == "127.0.0.1"
    assert "nobody@otakit.test" not in str(logs(tenant))
