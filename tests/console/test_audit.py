"""The audit log page: what was done appears, and each filter narrows the rows."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.conftest import TenantContext
from tests.support.api import entity_id

from .conftest import Console
from .test_packages import PASSWORD, add_devices, rows

# Column order of the page's table.
TIME, ENTITY_TYPE, ENTITY_NAME, USER, ACTION, STATUS, DETAILS = range(7)


def cells(console: Console) -> list[list[str]]:
    return [row.split(" | ") for row in rows(console)]


def wait_for_rows(console: Console, predicate_text: str) -> None:
    console.page.locator("main table tbody tr").filter(has_text=predicate_text).first.wait_for()


def test_the_audit_log_shows_the_actions_and_filters_them(
    console: Console, phone: Console, tenant: TenantContext
) -> None:
    firmware = tenant.api.create_package(tenant.default_profile_id, "audited-fw", "1.0")
    tenant.api.upload(firmware["id"]["id"], b"audited data")
    [device] = add_devices(tenant, 1, "audited-device")
    tenant.api.post(
        "/api/device",
        {
            **tenant.api.get(f"/api/device/{device}"),
            "firmwareId": entity_id("OTA_PACKAGE", firmware["id"]["id"]),
        },
    )
    tenant.api.delete(f"/api/otaPackage/{firmware['id']['id']}", expect=400)
    customer = tenant.api.post("/api/customer", {"title": "Audited customer"})["id"]["id"]
    customer_user = tenant.new_user("CUSTOMER_USER", customer_id=customer)
    customer_email = customer_user.get("/api/auth/user")["email"]
    # The customer user gives their customer's device firmware of its own.
    [their_device] = add_devices(tenant, 1, "customer-device")
    tenant.api.post(f"/api/customer/{customer}/device/{their_device}")
    customer_user.post(
        "/api/device",
        {
            **customer_user.get(f"/api/device/{their_device}"),
            "firmwareId": entity_id("OTA_PACKAGE", firmware["id"]["id"]),
        },
    )

    page = console.page
    console.login(tenant.admin_email, PASSWORD)
    # Something done in the console itself: a URL package added.
    console.open("packages/SOFTWARE")
    page.get_by_role("button", name="Add package").click()
    page.get_by_label("Title", exact=True).fill("audited-url")
    page.get_by_label("Version", exact=True).fill("2.0")
    page.get_by_label("Use external URL").check()
    page.get_by_label("External URL", exact=True).fill("https://cdn.example.com/a.bin")
    page.get_by_role("button", name="Save package").click()
    page.get_by_role("link", name="audited-url").wait_for()

    console.open("audit")
    page.get_by_role("heading", name="Audit log").wait_for()
    wait_for_rows(console, "audited-url")
    entries = cells(console)
    seen = {(e[ENTITY_NAME], e[ACTION], e[STATUS]) for e in entries}
    for expected in (
        ("audited-url", "Added", "Success"),
        ("audited-fw", "Added", "Success"),
        ("audited-fw", "OTA package uploaded", "Success"),
        ("audited-device-0", "OTA package assigned", "Success"),
        ("audited-fw", "Deleted", "Failure"),
    ):
        assert expected in seen, (expected, entries)
    [refused] = [e for e in entries if e[ACTION] == "Deleted"]
    assert "referenced by the devices cannot be deleted" in refused[DETAILS]
    assert refused[ENTITY_TYPE] == "OTA package" and refused[USER] == tenant.admin_email
    console.shot("audit")
    assert console.accessibility_problems() == []

    # By action type: only uploads remain, as many as the API counts.
    page.get_by_label("Action", exact=True).select_option("OTA_PACKAGE_UPLOADED")
    page.locator("main table tbody tr").filter(has_text="Added").first.wait_for(state="detached")
    uploads = cells(console)
    assert [e[ACTION] for e in uploads] == ["OTA package uploaded"]
    assert uploads[0][ENTITY_NAME] == "audited-fw"
    expected_count = tenant.api.get(
        "/api/audit/logs",
        params={"pageSize": 100, "page": 0, "actionTypes": "OTA_PACKAGE_UPLOADED"},
    )["totalElements"]
    assert len(uploads) == expected_count == 1

    # By user: the customer user's own entries only.
    page.get_by_label("Action", exact=True).select_option("")
    page.get_by_label("User", exact=True).select_option(
        label=f"{customer_email} (Audited customer)"
    )
    wait_for_rows(console, customer_email)
    page.locator("main table tbody tr").filter(has_text="audited-fw").first.wait_for(
        state="detached"
    )
    theirs = cells(console)
    assert theirs and all(e[USER] == customer_email for e in theirs), theirs
    # Newest first: their assignment, and their login before it (logins are audited).
    assert [(e[ENTITY_NAME], e[ACTION]) for e in theirs] == [
        ("customer-device-0", "OTA package assigned"),
        (customer_email, "Login"),
    ]

    # By time: nothing happened from tomorrow on; everything was before it.
    page.get_by_label("User", exact=True).select_option("")
    tomorrow = (datetime.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
    page.get_by_label("From", exact=True).fill(tomorrow)
    page.get_by_text("No entries match these filters.").wait_for()
    page.get_by_label("From", exact=True).fill("")
    page.get_by_label("Until", exact=True).fill(tomorrow)
    wait_for_rows(console, "audited-url")

    phone.login(tenant.admin_email, PASSWORD)
    phone.open("audit")
    phone.page.locator("main table tbody tr").filter(has_text="audited-url").first.wait_for()
    assert phone.fits_the_width()
    phone.shot("audit-phone")
    assert phone.accessibility_problems() == []
    phone.open("profiles")
    phone.page.get_by_role("button", name="Change packages of default").click()
    phone.page.get_by_label("Firmware", exact=True).wait_for()
    assert phone.fits_the_width()
    phone.shot("profiles-phone")
    assert phone.accessibility_problems() == []
