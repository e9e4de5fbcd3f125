"""A token dies with its session: logout, a new password, its user or tenant deleted."""

from __future__ import annotations

import uuid

import httpx

from tests.conftest import TenantContext, activate
from tests.support.api import Api, assert_error
from tests.support.process import ServerProcess


def me(server: ServerProcess, token: str) -> httpx.Response:
    return httpx.get(server.url + "/api/auth/user", headers={"X-Authorization": f"Bearer {token}"})


def use(server: ServerProcess, token: str) -> httpx.Response:
    """Any call of the API that looks nothing up about the caller (unlike /api/auth/user)."""
    return httpx.get(
        server.url + "/api/deviceProfileInfos",
        params={"pageSize": 1, "page": 0},
        headers={"X-Authorization": f"Bearer {token}"},
    )


def refresh(server: ServerProcess, refresh_token: str) -> httpx.Response:
    return httpx.post(server.url + "/api/auth/token", json={"refreshToken": refresh_token})


def login_pair(server: ServerProcess, email: str, password: str) -> dict[str, str]:
    response = httpx.post(
        server.url + "/api/auth/login", json={"username": email, "password": password}
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def new_user(tenant: TenantContext, password: str = "user-password") -> tuple[str, str]:
    email = f"user-{uuid.uuid4().hex[:8]}@otakit.test"
    user = tenant.api.post(
        "/api/user",
        {"email": email, "authority": "TENANT_ADMIN"},
        params={"sendActivationMail": "false"},
    )
    activate(tenant.api, user["id"]["id"], email, password)
    return user["id"]["id"], email


def test_logout_ends_that_login_only(server: ServerProcess, tenant: TenantContext) -> None:
    _, email = new_user(tenant)
    first = login_pair(server, email, "user-password")
    second = login_pair(server, email, "user-password")
    logout = httpx.post(
        server.url + "/api/auth/logout", headers={"X-Authorization": f"Bearer {first['token']}"}
    )
    assert logout.status_code == 200
    assert_error(use(server, first["token"]), 401, "Session has ended")
    assert_error(refresh(server, first["refreshToken"]), 401, "Session has ended")
    assert use(server, second["token"]).status_code == 200


def test_a_deleted_users_tokens_are_refused_at_once(
    server: ServerProcess, tenant: TenantContext
) -> None:
    user_id, email = new_user(tenant)
    pair = login_pair(server, email, "user-password")
    assert use(server, pair["token"]).status_code == 200
    tenant.api.delete(f"/api/user/{user_id}")
    assert_error(use(server, pair["token"]), 401)
    assert_error(refresh(server, pair["refreshToken"]), 401)


def test_a_deleted_tenants_tokens_are_refused_at_once(
    server: ServerProcess, sysadmin: Api, tenant: TenantContext
) -> None:
    customer = tenant.api.post("/api/customer", {"title": "c"})
    customer_user = tenant.new_user("CUSTOMER_USER", customer_id=customer["id"]["id"])
    tokens = [tenant.api.token, customer_user.token]
    for token in tokens:
        assert token and use(server, token).status_code == 200
    sysadmin.delete(f"/api/tenant/{tenant.tenant_id}")
    for token in tokens:
        assert token
        assert_error(use(server, token), 401)


def test_a_new_password_ends_every_older_login(
    server: ServerProcess, tenant: TenantContext
) -> None:
    _, email = new_user(tenant)
    old = [login_pair(server, email, "user-password") for _ in range(2)]
    changed = httpx.post(
        server.url + "/api/auth/changePassword",
        json={"currentPassword": "user-password", "newPassword": "another-password"},
        headers={"X-Authorization": f"Bearer {old[0]['token']}"},
    )
    assert changed.status_code == 200, changed.text
    for pair in old:
        assert_error(use(server, pair["token"]), 401)
        assert_error(refresh(server, pair["refreshToken"]), 401)
    fresh = changed.json()
    assert me(server, fresh["token"]).json()["email"] == email
    assert refresh(server, fresh["refreshToken"]).status_code == 200


def test_a_refreshed_pair_belongs_to_the_same_login(
    server: ServerProcess, tenant: TenantContext
) -> None:
    _, email = new_user(tenant)
    pair = login_pair(server, email, "user-password")
    renewed = refresh(server, pair["refreshToken"]).json()
    httpx.post(
        server.url + "/api/auth/logout", headers={"X-Authorization": f"Bearer {renewed['token']}"}
    )
    for token in (pair["token"], renewed["token"]):
        assert_error(use(server, token), 401)
