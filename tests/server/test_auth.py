"""ThingsBoard-style login: JWT pairs, refresh, X-Authorization, activation, passwords."""

from __future__ import annotations

import time

import httpx
import jwt
import pytest

from tests.conftest import TenantContext
from tests.support.api import Api, assert_error
from tests.support.process import ADMIN_EMAIL, ADMIN_PASSWORD, ServerProcess


def login(server: ServerProcess, username: str, password: str) -> httpx.Response:
    return httpx.post(
        server.url + "/api/auth/login", json={"username": username, "password": password}
    )


def test_login_returns_a_jwt_pair_with_expiry(server: ServerProcess) -> None:
    response = login(server, ADMIN_EMAIL, ADMIN_PASSWORD)
    assert response.status_code == 200
    pair = response.json()
    claims = jwt.decode(pair["token"], options={"verify_signature": False})
    assert claims["sub"] == ADMIN_EMAIL and claims["scopes"] == ["SYS_ADMIN"]
    assert 0 < claims["exp"] - time.time() <= 9000 + 5
    refresh = jwt.decode(pair["refreshToken"], options={"verify_signature": False})
    assert refresh["scopes"] == ["REFRESH_TOKEN"] and refresh["exp"] > claims["exp"]


@pytest.mark.parametrize(
    ("username", "password"), [(ADMIN_EMAIL, "wrong"), ("nobody@otakit.test", "x")]
)
def test_bad_login_is_401(server: ServerProcess, username: str, password: str) -> None:
    assert_error(login(server, username, password), 401, "Invalid username or password")


def test_login_email_is_case_insensitive(server: ServerProcess) -> None:
    assert login(server, ADMIN_EMAIL.upper(), ADMIN_PASSWORD).status_code == 200


def test_requests_need_a_valid_token(server: ServerProcess) -> None:
    path = server.url + "/api/auth/user"
    assert_error(httpx.get(path), 401)
    assert_error(httpx.get(path, headers={"X-Authorization": "Bearer not.a.jwt"}), 401)
    forged = jwt.encode(
        {
            "sub": ADMIN_EMAIL,
            "scopes": ["SYS_ADMIN"],
            "exp": time.time() + 60,
            "iss": "otakit",
            "userId": "00000000-0000-0000-0000-000000000000",
        },
        "a-guessed-secret-that-is-long-enough-for-hs256",
        algorithm="HS256",
    )
    assert_error(httpx.get(path, headers={"X-Authorization": f"Bearer {forged}"}), 401)


def test_refresh_gives_a_new_pair_and_is_no_access_token(server: ServerProcess) -> None:
    pair = login(server, ADMIN_EMAIL, ADMIN_PASSWORD).json()
    response = httpx.post(
        server.url + "/api/auth/token", json={"refreshToken": pair["refreshToken"]}
    )
    assert response.status_code == 200
    fresh = response.json()
    me = httpx.get(
        server.url + "/api/auth/user", headers={"X-Authorization": f"Bearer {fresh['token']}"}
    )
    assert me.json()["email"] == ADMIN_EMAIL
    assert_error(
        httpx.get(
            server.url + "/api/auth/user",
            headers={"X-Authorization": f"Bearer {pair['refreshToken']}"},
        ),
        401,
    )
    assert_error(
        httpx.post(server.url + "/api/auth/token", json={"refreshToken": pair["token"]}), 401
    )


def test_activation_token_works_once(tenant: TenantContext) -> None:
    user = tenant.api.post("/api/user", {"email": "once@otakit.test", "authority": "TENANT_ADMIN"})
    link = tenant.api.request("GET", f"/api/user/{user['id']['id']}/activationLink").text
    assert link.startswith(tenant.api.url + "/api/noauth/activate?activateToken=")
    token = link.split("=", 1)[1]
    body = {"activateToken": token, "password": "first-pass"}
    assert httpx.post(tenant.api.url + "/api/noauth/activate", json=body).status_code == 200
    assert_error(httpx.post(tenant.api.url + "/api/noauth/activate", json=body), 404)
    assert_error(
        tenant.api.http.get(f"/api/user/{user['id']['id']}/activationLink"),
        400,
        "already activated",
    )


def test_short_password_is_refused(tenant: TenantContext) -> None:
    user = tenant.api.post("/api/user", {"email": "short@otakit.test", "authority": "TENANT_ADMIN"})
    token = tenant.api.request("GET", f"/api/user/{user['id']['id']}/activationLink").text.split(
        "=", 1
    )[1]
    response = httpx.post(
        tenant.api.url + "/api/noauth/activate", json={"activateToken": token, "password": "abc"}
    )
    assert_error(response, 400, "at least 6")


def test_change_password(tenant: TenantContext) -> None:
    user = tenant.new_user("TENANT_ADMIN", password="before-pass")
    me = user.get("/api/auth/user")
    assert_error(
        user.http.post(
            "/api/auth/changePassword",
            json={"currentPassword": "wrong", "newPassword": "after-pass"},
        ),
        401,
    )
    user.post(
        "/api/auth/changePassword", {"currentPassword": "before-pass", "newPassword": "after-pass"}
    )
    Api.login(user.url, me["email"], "after-pass")
    assert_error(
        httpx.post(
            user.url + "/api/auth/login", json={"username": me["email"], "password": "before-pass"}
        ),
        401,
    )


def test_duplicate_email_is_refused(tenant: TenantContext) -> None:
    assert_error(
        tenant.api.http.post(
            "/api/user", json={"email": tenant.admin_email, "authority": "TENANT_ADMIN"}
        ),
        400,
        "already present",
    )
    assert_error(
        tenant.api.http.post(
            "/api/user", json={"email": "no-at-sign", "authority": "TENANT_ADMIN"}
        ),
        400,
        "email",
    )
