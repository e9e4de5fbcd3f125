"""Tenant isolation: another tenant's ids answer 404, everywhere."""

from __future__ import annotations

from collections.abc import Callable

from tests.conftest import TenantContext
from tests.support.api import assert_error


def test_another_tenants_ids_answer_404_everywhere(
    tenant: TenantContext, new_tenant: Callable[[], TenantContext]
) -> None:
    owner = tenant
    package = owner.api.create_package(owner.default_profile_id, "fw", "1.0")
    owner.api.upload(package["id"]["id"], b"secret image")
    empty_package = owner.api.create_package(owner.default_profile_id, "fw", "2.0")
    device = owner.api.create_device("d", owner.default_profile_id)
    customer = owner.api.post("/api/customer", {"title": "c"})
    user = owner.api.post("/api/user", {"email": "u@iso.test", "authority": "TENANT_ADMIN"})
    profile = owner.api.get(f"/api/deviceProfile/{owner.default_profile_id}")

    intruder = new_tenant().api.http
    pid, did, cid = package["id"]["id"], device["id"]["id"], customer["id"]["id"]
    prid, uid = owner.default_profile_id, user["id"]["id"]
    paging = {"pageSize": 10, "page": 0}
    for response in [
        intruder.get(f"/api/otaPackage/info/{pid}"),
        intruder.get(f"/api/otaPackage/{pid}"),
        intruder.get(f"/api/otaPackage/{pid}/download"),
        intruder.delete(f"/api/otaPackage/{pid}"),
        intruder.post("/api/otaPackage", json={**package, "additionalInfo": {"x": 1}}),
        intruder.post(f"/api/otaPackage/{empty_package['id']['id']}", files={"file": ("f", b"x")}),
        intruder.get(f"/api/otaPackages/{prid}/FIRMWARE", params=paging),
        intruder.get(f"/api/device/{did}"),
        intruder.get(f"/api/device/{did}/credentials"),
        intruder.post("/api/device", json={**device, "label": "mine"}),
        intruder.delete(f"/api/device/{did}"),
        intruder.post(
            "/api/device/credentials", json={"deviceId": device["id"], "credentialsId": "stolen"}
        ),
        intruder.get(f"/api/deviceProfile/{prid}"),
        intruder.get(f"/api/deviceProfileInfo/{prid}"),
        intruder.post("/api/deviceProfile", json={**profile, "description": "mine"}),
        intruder.delete(f"/api/deviceProfile/{prid}"),
        intruder.get(f"/api/customer/{cid}"),
        intruder.get(f"/api/customer/{cid}/devices", params=paging),
        intruder.get(f"/api/customer/{cid}/users", params=paging),
        intruder.delete(f"/api/customer/{cid}"),
        intruder.get(f"/api/user/{uid}"),
        intruder.delete(f"/api/user/{uid}"),
        intruder.get(f"/api/tenant/{owner.tenant_id}"),
    ]:
        assert_error(response, 404)

    # Nothing changed for the owner.
    assert owner.api.get(f"/api/device/{did}")["label"] is None
    assert owner.api.get(f"/api/otaPackage/info/{pid}")["additionalInfo"] is None
    assert owner.api.get(f"/api/otaPackage/info/{empty_package['id']['id']}")["hasData"] is False
    assert owner.api.get(f"/api/deviceProfile/{prid}")["description"] == profile["description"]


def test_listings_show_only_the_own_tenant(
    tenant: TenantContext, new_tenant: Callable[[], TenantContext]
) -> None:
    tenant.api.create_package(tenant.default_profile_id, "mine", "1")
    tenant.api.create_device("mine")
    other = new_tenant()
    paging = {"pageSize": 10, "page": 0}
    assert other.api.get("/api/otaPackages", params=paging)["totalElements"] == 0
    assert other.api.get("/api/tenant/devices", params=paging)["totalElements"] == 0
    profiles = other.api.get("/api/deviceProfiles", params=paging)
    assert [p["id"]["id"] for p in profiles["data"]] == [other.default_profile_id]
    # Their log holds their administrator's login only, nothing of the first tenant's.
    theirs = other.api.get("/api/audit/logs", params=paging)["data"]
    assert [(e["actionType"], e["userName"]) for e in theirs] == [("LOGIN", other.admin_email)]


def test_same_names_live_side_by_side_in_two_tenants(
    tenant: TenantContext, new_tenant: Callable[[], TenantContext]
) -> None:
    other = new_tenant()
    for t in (tenant, other):
        t.api.create_device("same-name")
        t.api.create_package(t.default_profile_id, "same", "1.0")
