"""The dashboard shows each user the devices they may see, and no others."""

from __future__ import annotations

import uuid

from tests.conftest import TenantContext
from tests.support.api import entity_id


def test_customer_users_see_only_their_customers_devices_on_the_dashboard(
    tenant: TenantContext,
) -> None:
    api = tenant.api
    ours = api.post("/api/customer", {"title": "ours"})["id"]["id"]
    theirs = api.post("/api/customer", {"title": "theirs"})["id"]["id"]
    package = api.create_package(tenant.default_profile_id, f"fw-{uuid.uuid4().hex[:6]}", "1.0")
    package = api.upload(package["id"]["id"], b"firmware" * 100)
    names = {}
    for owner in (ours, theirs, None):
        device = api.create_device(
            f"d-{uuid.uuid4().hex[:6]}",
            tenant.default_profile_id,
            firmwareId=entity_id("OTA_PACKAGE", package["id"]["id"]),
        )
        if owner:
            api.post(f"/api/customer/{owner}/device/{device['id']['id']}")
        names[owner] = device["name"]
    customer_user = tenant.new_user("CUSTOMER_USER", customer_id=ours)
    listed = customer_user.get("/api/ota/dashboard/devices", params={"pageSize": 100, "page": 0})
    assert [row["deviceName"] for row in listed["data"]] == [names[ours]]
    assert listed["totalElements"] == 1
    counts = customer_user.get("/api/ota/dashboard/counts")
    assert counts["total"] == 1
    assert api.get("/api/ota/dashboard/counts")["total"] == 3
