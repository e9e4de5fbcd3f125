"""Signing in and out of the console in a real browser, with the accounts of the REST API."""

from __future__ import annotations

from tests.conftest import TenantContext

from .conftest import Console

PASSWORD = "tenant-password"  # tests.conftest.create_tenant's


def test_a_tenant_administrator_logs_in_sees_their_menu_and_logs_out(
    console: Console, tenant: TenantContext
) -> None:
    console.login(tenant.admin_email, PASSWORD)
    nav = console.page.get_by_role("navigation", name="Main")
    for item in ("Dashboard", "Firmware", "Software", "Device profiles", "Devices", "Audit log"):
        assert nav.get_by_role("link", name=item).is_visible()
    cookies = {c["name"]: c for c in console.page.context.cookies()}
    session = cookies["otakit_session"]
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    assert not cookies["otakit_csrf"]["httpOnly"]
    # The token is in no address the browser went to and in nothing the page's scripts can read.
    assert session["value"] not in console.page.url
    assert "otakit_session" not in console.page.evaluate("document.cookie")

    console.page.get_by_role("button", name="Log out").click()
    console.page.get_by_role("button", name="Log in").wait_for()
    # The login is over on the server too, not only in the browser.
    response = console.page.request.get(f"{console.url}/api/auth/user")
    assert response.status == 401


def test_a_wrong_password_is_refused_with_the_servers_message(
    console: Console, tenant: TenantContext
) -> None:
    console.page.goto(f"{console.url}/")
    console.page.get_by_label("Email").fill(tenant.admin_email)
    console.page.get_by_label("Password").fill("not-the-password")
    console.page.get_by_role("button", name="Log in").click()
    alert = console.page.get_by_role("alert")
    alert.wait_for()
    assert "Invalid username or password" in alert.inner_text()
    assert console.page.get_by_role("button", name="Log out").count() == 0


def test_the_login_page_is_accessible_and_fits_a_phone(phone: Console) -> None:
    phone.page.goto(f"{phone.url}/")
    phone.page.get_by_label("Email").wait_for()
    phone.shot("login")
    assert phone.accessibility_problems() == []
    assert phone.fits_the_width()
