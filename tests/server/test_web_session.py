"""The console's browser login over plain HTTP: what the cookies are, what they allow, and the
forgeries they refuse. tests/console/ drives the same login from a real browser."""

from __future__ import annotations

from collections.abc import Iterator
from http.cookies import SimpleCookie

import httpx
import pytest

from tests.conftest import TenantContext
from tests.support.api import assert_error
from tests.support.process import ServerProcess

PASSWORD = "tenant-password"  # tests.conftest.create_tenant's
SESSION = "/api/web/session"


@pytest.fixture
def browser(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def sign_in(browser: httpx.Client, tenant: TenantContext) -> httpx.Response:
    response = browser.post(SESSION, json={"username": tenant.admin_email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return response


def set_cookies(response: httpx.Response) -> SimpleCookie:
    jar: SimpleCookie = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        jar.load(header)
    return jar


def customers(tenant: TenantContext) -> int:
    return int(tenant.api.get("/api/customers", params={"pageSize": 1, "page": 0})["totalElements"])


def test_login_puts_the_tokens_in_httponly_strict_cookies_not_in_the_body(
    browser: httpx.Client, tenant: TenantContext
) -> None:
    response = sign_in(browser, tenant)
    body = response.json()
    assert body["email"] == tenant.admin_email and body["authority"] == "TENANT_ADMIN"
    assert "token" not in response.text.lower()
    jar = set_cookies(response)
    for name, path, httponly in (
        ("otakit_session", "/", True),
        ("otakit_refresh", SESSION, True),
        ("otakit_csrf", "/", False),
    ):
        morsel = jar[name]
        assert morsel["samesite"] == "strict", name
        assert morsel["path"] == path, name
        assert bool(morsel["httponly"]) is httponly, name
    # The cookie alone authenticates reading.
    assert browser.get("/api/auth/user").json()["email"] == tenant.admin_email


def test_a_change_with_the_cookie_needs_the_logins_csrf_value(
    browser: httpx.Client, tenant: TenantContext
) -> None:
    sign_in(browser, tenant)
    customer = {"title": "made-from-the-console"}
    assert_error(browser.post("/api/customer", json=customer), 403, "CSRF")
    wrong = {"X-CSRF-Token": "0" * 64}
    assert_error(browser.post("/api/customer", json=customer, headers=wrong), 403, "CSRF")
    # Nothing was made by the refused requests.
    assert customers(tenant) == 0

    right = {"X-CSRF-Token": browser.cookies["otakit_csrf"]}
    made = browser.post("/api/customer", json=customer, headers=right)
    assert made.status_code == 200, made.text
    assert customers(tenant) == 1


def test_the_csrf_value_of_one_login_does_not_serve_another(
    server: ServerProcess, browser: httpx.Client, tenant: TenantContext
) -> None:
    sign_in(browser, tenant)
    with httpx.Client(base_url=server.url, timeout=30) as other:
        sign_in(other, tenant)
        theirs = {"X-CSRF-Token": other.cookies["otakit_csrf"]}
    refused = browser.post("/api/customer", json={"title": "x"}, headers=theirs)
    assert_error(refused, 403, "CSRF")


def test_a_login_posted_from_another_site_is_refused(
    browser: httpx.Client, tenant: TenantContext
) -> None:
    response = browser.post(
        SESSION,
        json={"username": tenant.admin_email, "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
    )
    assert_error(response, 403, "Cross-site")
    assert "set-cookie" not in response.headers


def test_a_wrong_password_sets_no_cookie(browser: httpx.Client, tenant: TenantContext) -> None:
    response = browser.post(SESSION, json={"username": tenant.admin_email, "password": "nope"})
    assert_error(response, 401, "Invalid username or password")
    assert "set-cookie" not in response.headers


def test_refresh_renews_the_cookies_and_logout_ends_the_login(
    browser: httpx.Client, tenant: TenantContext
) -> None:
    sign_in(browser, tenant)
    csrf = {"X-CSRF-Token": browser.cookies["otakit_csrf"]}
    assert_error(browser.post(f"{SESSION}/refresh"), 403, "CSRF")
    renewed = browser.post(f"{SESSION}/refresh", headers=csrf)
    assert renewed.status_code == 200, renewed.text
    assert "otakit_session" in set_cookies(renewed)
    old_session = browser.cookies["otakit_session"]

    assert_error(browser.delete(SESSION), 403, "CSRF")
    out = browser.delete(SESSION, headers=csrf)
    assert out.status_code == 200
    assert all(m.value == "" for m in set_cookies(out).values())
    # The login is over on the server: the old cookie no longer works even if replayed.
    browser.cookies.clear()
    browser.cookies.set("otakit_session", old_session)
    replayed = browser.get("/api/auth/user")
    assert_error(replayed, 401)


def test_a_bearer_header_is_used_as_before_and_needs_no_csrf(
    browser: httpx.Client, tenant: TenantContext
) -> None:
    headers = {"X-Authorization": f"Bearer {tenant.api.token}"}
    made = browser.post("/api/customer", json={"title": "by-token"}, headers=headers)
    assert made.status_code == 200, made.text


def test_the_console_is_served_with_a_policy_that_allows_this_origin_only(
    browser: httpx.Client,
) -> None:
    page = browser.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/console/app.js">' in page.text
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    script = browser.get("/console/app.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert script.headers["x-content-type-options"] == "nosniff"
    assert browser.get("/console/no-such-file.js").status_code == 404


def test_the_consoles_logout_never_ends_a_bearer_tokens_login(
    browser: httpx.Client, tenant: TenantContext
) -> None:
    headers = {"X-Authorization": f"Bearer {tenant.api.token}"}
    assert browser.delete(SESSION, headers=headers).status_code == 200
    assert tenant.api.get("/api/auth/user")["email"] == tenant.admin_email
