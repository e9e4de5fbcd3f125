"""A customer user's console: their customer's devices only, and no Firmware pages."""

from __future__ import annotations

from tests.conftest import TenantContext
from tests.support.api import entity_id

from .conftest import Console
from .test_packages import add_devices, rows

CUSTOMER_PASSWORD = "customer-password"


def test_a_customer_user_sees_only_their_customers_devices(
    console: Console, tenant: TenantContext
) -> None:
    ours = tenant.api.post("/api/customer", {"title": "Our customer"})["id"]["id"]
    theirs = tenant.api.post("/api/customer", {"title": "Another customer"})["id"]["id"]
    tenant.new_user("CUSTOMER_USER", password=CUSTOMER_PASSWORD, customer_id=ours)
    [email] = [
        u["email"]
        for u in tenant.api.get(f"/api/customer/{ours}/users", params={"pageSize": 10, "page": 0})[
            "data"
        ]
    ]
    mine, other, unassigned = add_devices(tenant, 3, "meter")
    tenant.api.post(f"/api/customer/{ours}/device/{mine}")
    tenant.api.post(f"/api/customer/{theirs}/device/{other}")
    firmware = tenant.api.create_package(tenant.default_profile_id, "meter-fw", "1.0")
    tenant.api.upload(firmware["id"]["id"], b"meter firmware")

    page = console.page
    console.login(email, CUSTOMER_PASSWORD)
    nav = page.get_by_role("navigation", name="Main")
    assert nav.get_by_role("link").all_inner_texts() == ["Dashboard", "Devices"]
    console.open("devices")
    page.get_by_role("cell", name="meter-0", exact=True).wait_for()
    assert [r.split(" | ")[0] for r in rows(console)] == ["meter-0"]
    assert "Our customer" in rows(console)[0]
    console.shot("devices-customer")
    assert console.accessibility_problems() == []

    # The Firmware pages are not theirs: the address leads back home.
    console.open("packages/FIRMWARE")
    page.wait_for_url("**/#/dashboard")

    # The API lets a customer user give their device a package of its own, so the page does.
    console.open("devices")
    page.get_by_role("button", name="Change packages of meter-0").click()
    page.get_by_label("Firmware", exact=True).select_option(label="meter-fw 1.0")
    page.get_by_role("button", name="Save", exact=True).click()
    page.locator("main").get_by_role("status").filter(
        has_text="Packages of meter-0 saved"
    ).wait_for()
    device = tenant.api.get(f"/api/device/{mine}")
    assert device["firmwareId"] == entity_id("OTA_PACKAGE", firmware["id"]["id"])
    assert tenant.api.get(f"/api/device/{unassigned}")["firmwareId"] is None
