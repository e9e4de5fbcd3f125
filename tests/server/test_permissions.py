"""Roles: what system administrators, tenant administrators and customer users may do."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import TenantContext
from tests.support.api import Api, assert_error, entity_id


def customer_setup(tenant: TenantContext) -> tuple[Api, dict[str, Any], dict[str, Any]]:
    """A customer user, a device of theirs, and a package with data."""
    user, customer_id = tenant.new_customer_user()
    device = tenant.api.create_device("theirs", tenant.default_profile_id)
    tenant.api.post(f"/api/customer/{customer_id}/device/{device['id']['id']}")
    package = tenant.api.create_package(tenant.default_profile_id, "fw", "2.0")
    package = tenant.api.upload(package["id"]["id"], b"image")
    return user, device, package


def test_customer_user_assigns_a_package_to_their_device(tenant: TenantContext) -> None:
    user, device, package = customer_setup(tenant)
    mine = user.get(f"/api/device/{device['id']['id']}")
    saved = user.post("/api/device", {**mine, "firmwareId": package["id"]})
    assert saved["firmwareId"] == package["id"]
    assert tenant.api.get(f"/api/device/{device['id']['id']}")["firmwareId"] == package["id"]
    cleared = user.post("/api/device", {**mine, "firmwareId": None})
    assert cleared["firmwareId"] is None


def test_customer_user_reads_package_infos_to_choose_one(tenant: TenantContext) -> None:
    user, _, package = customer_setup(tenant)
    assert user.get(f"/api/otaPackage/info/{package['id']['id']}")["title"] == "fw"
    listed = user.get(
        f"/api/otaPackages/{tenant.default_profile_id}/FIRMWARE", params={"pageSize": 10, "page": 0}
    )
    assert [p["id"] for p in listed["data"]] == [package["id"]]


def test_customer_user_does_nothing_else_to_packages(tenant: TenantContext) -> None:
    user, _, package = customer_setup(tenant)
    pid = package["id"]["id"]
    body = {
        "title": "mine",
        "version": "1",
        "type": "FIRMWARE",
        "deviceProfileId": entity_id("DEVICE_PROFILE", tenant.default_profile_id),
    }
    assert_error(user.http.post("/api/otaPackage", json=body), 403)
    assert_error(user.http.post("/api/otaPackage", json={**package, "additionalInfo": {}}), 403)
    assert_error(user.http.post(f"/api/otaPackage/{pid}", files={"file": ("f", b"x")}), 403)
    assert_error(user.http.get(f"/api/otaPackage/{pid}/download"), 403)
    assert_error(user.http.get(f"/api/otaPackage/{pid}"), 403)
    assert_error(user.http.delete(f"/api/otaPackage/{pid}"), 403)
    assert tenant.api.get(f"/api/otaPackage/info/{pid}") == package
    # Without data yet too: the package with its data is the tenant administrator's alone.
    empty = tenant.api.create_package(tenant.default_profile_id, "no-data", "1")["id"]["id"]
    assert_error(user.http.get(f"/api/otaPackage/{empty}"), 403)


def test_customer_user_may_not_rename_or_create_devices(tenant: TenantContext) -> None:
    user, device, _ = customer_setup(tenant)
    mine = user.get(f"/api/device/{device['id']['id']}")
    assert_error(user.http.post("/api/device", json={**mine, "name": "renamed"}), 403)
    assert_error(user.http.post("/api/device", json={"name": "new"}), 403)
    assert_error(user.http.delete(f"/api/device/{device['id']['id']}"), 403)
    assert tenant.api.get(f"/api/device/{device['id']['id']}")["name"] == "theirs"


def test_customer_user_sees_only_their_customers_devices(tenant: TenantContext) -> None:
    user, _, package = customer_setup(tenant)
    other = tenant.api.create_device("not-theirs", tenant.default_profile_id)
    assert_error(user.http.get(f"/api/device/{other['id']['id']}"), 404)
    assert_error(user.http.post("/api/device", json={**other, "firmwareId": package["id"]}), 404)
    assert tenant.api.get(f"/api/device/{other['id']['id']}")["firmwareId"] is None
    listed = user.get("/api/tenant/devices", params={"pageSize": 10, "page": 0})
    assert [d["name"] for d in listed["data"]] == ["theirs"]


def test_system_admin_manages_tenants_not_their_devices(
    sysadmin: Api, tenant: TenantContext
) -> None:
    assert sysadmin.get(f"/api/tenant/{tenant.tenant_id}")["id"]["id"] == tenant.tenant_id
    assert_error(sysadmin.http.get("/api/tenant/devices", params={"pageSize": 5, "page": 0}), 403)
    assert_error(sysadmin.http.get("/api/otaPackages", params={"pageSize": 5, "page": 0}), 403)
    admins = sysadmin.get(
        f"/api/tenant/{tenant.tenant_id}/users", params={"pageSize": 10, "page": 0}
    )
    assert [u["email"] for u in admins["data"]] == [tenant.admin_email]


def test_tenant_admin_cannot_manage_tenants(tenant: TenantContext) -> None:
    assert_error(tenant.api.http.get("/api/tenants", params={"pageSize": 5, "page": 0}), 403)
    assert_error(tenant.api.http.post("/api/tenant", json={"title": "mine"}), 403)
    assert_error(
        tenant.api.http.post("/api/user", json={"email": "x@y.z", "authority": "SYS_ADMIN"}), 403
    )


def test_tenant_admin_adds_another_admin(tenant: TenantContext) -> None:
    second = tenant.new_user("TENANT_ADMIN")
    assert second.get("/api/auth/user")["authority"] == "TENANT_ADMIN"
    assert second.get(f"/api/deviceProfile/{tenant.default_profile_id}")["name"] == "default"


@pytest.mark.parametrize("authority", ["TENANT_ADMIN", "CUSTOMER_USER"])
def test_current_user(tenant: TenantContext, authority: str) -> None:
    user = tenant.new_customer_user()[0] if authority == "CUSTOMER_USER" else tenant.api
    me = user.get("/api/auth/user")
    assert me["authority"] == authority
    assert me["tenantId"] == entity_id("TENANT", tenant.tenant_id)
