"""A device's own packages, given on the devices page, as the REST API then reports them."""

from __future__ import annotations

from tests.conftest import TenantContext
from tests.support.api import entity_id

from .conftest import Console
from .test_packages import PASSWORD, add_devices, rows


def test_a_device_gets_firmware_of_its_own_from_the_devices_page(
    console: Console, phone: Console, tenant: TenantContext
) -> None:
    firmware = tenant.api.create_package(tenant.default_profile_id, "device-fw", "3.1")
    tenant.api.upload(firmware["id"]["id"], b"device firmware")
    # A package without data cannot be assigned, so it is not offered.
    tenant.api.create_package(tenant.default_profile_id, "empty-fw", "0.1")
    [first, second] = add_devices(tenant, 2, "sensor")
    page = console.page
    console.login(tenant.admin_email, PASSWORD)
    console.open("devices")
    page.get_by_role("cell", name="sensor-1", exact=True).wait_for()

    page.get_by_role("button", name="Change packages of sensor-1").click()
    chooser = page.get_by_label("Firmware", exact=True)
    chooser.wait_for()
    offered = chooser.locator("option").all_inner_texts()
    assert offered == ["None of its own (the profile's)", "device-fw 3.1"]
    chooser.select_option(label="device-fw 3.1")
    console.shot("device-packages")
    assert console.accessibility_problems() == []
    page.get_by_role("button", name="Save", exact=True).click()
    page.locator("main").get_by_role("status").filter(
        has_text="Packages of sensor-1 saved"
    ).wait_for()

    device = tenant.api.get(f"/api/device/{second}")
    assert device["firmwareId"] == entity_id("OTA_PACKAGE", firmware["id"]["id"])
    assert device["softwareId"] is None
    assert tenant.api.get(f"/api/device/{first}")["firmwareId"] is None
    [row] = [r for r in rows(console) if r.startswith("sensor-1")]
    assert "device-fw 3.1" in row

    # Search narrows the list to the device.
    page.get_by_label("Search by name").fill("sensor-0")
    page.get_by_role("cell", name="sensor-1", exact=True).wait_for(state="detached")
    assert len(rows(console)) == 1
    console.shot("devices")
    assert console.accessibility_problems() == []

    # Given back to its profile's firmware.
    page.get_by_label("Search by name").fill("")
    page.get_by_role("button", name="Change packages of sensor-1").click()
    page.get_by_label("Firmware", exact=True).select_option(label="None of its own (the profile's)")
    page.get_by_role("button", name="Save", exact=True).click()
    page.locator("main").get_by_role("status").filter(
        has_text="Packages of sensor-1 saved"
    ).wait_for()
    assert tenant.api.get(f"/api/device/{second}")["firmwareId"] is None

    phone.login(tenant.admin_email, PASSWORD)
    phone.open("devices")
    phone.page.get_by_role("cell", name="sensor-1", exact=True).wait_for()
    phone.page.get_by_role("button", name="Change packages of sensor-1").click()
    phone.page.get_by_label("Firmware", exact=True).wait_for()
    assert phone.fits_the_width()
    phone.shot("devices-phone")
    assert phone.accessibility_problems() == []
