"""Isolation: a device sees only its own attributes and package; tenants see only their own."""

from __future__ import annotations

import uuid

import httpx
import pytest

from otaconformance.devices import HttpDevice
from otaconformance.target import Target, login, rule


def test_a_device_never_sees_another_devices(target: Target, profile: str) -> None:
    mine, theirs = target.package(profile, b"mine" * 64), target.package(profile, b"theirs" * 64)
    _, my_token = target.device(profile, firmwareId=mine["id"])
    other, _ = target.device(profile, firmwareId=theirs["id"])
    target.call(
        "POST",
        f"/api/plugins/telemetry/DEVICE/{other['id']['id']}/SHARED_SCOPE",
        json={"secret": "theirs"},
    )
    http = HttpDevice(target.url, my_token)
    try:
        response = http.get("firmware", title=theirs["title"], version=theirs["version"])
        assert response.status_code != 200 or response.content != b"theirs" * 64, rule(
            "§6", "a device never gets another device's package"
        )
        shared = http.get("attributes", sharedKeys="secret").json()
        assert "secret" not in shared.get("shared", {}), rule(
            "§6", "a device never reads another device's attributes"
        )
    finally:
        http.close()


def test_another_tenants_package_answers_404(target: Target, profile: str) -> None:
    if target.sysadmin is None:
        pytest.skip("needs --sysadmin-username and --sysadmin-password to make a second tenant")
    package = target.package(profile, b"private" * 10)
    admin = {"X-Authorization": "Bearer " + login(target.url, *target.sysadmin)}
    with httpx.Client(base_url=target.url, headers=admin, timeout=30) as http:
        tenant = http.post("/api/tenant", json={"title": f"other-{uuid.uuid4().hex[:6]}"}).json()
        email = f"other-{uuid.uuid4().hex[:8]}@conformance.test"
        user = http.post(
            "/api/user",
            params={"sendActivationMail": "false"},
            json={"email": email, "authority": "TENANT_ADMIN", "tenantId": tenant["id"]},
        ).json()
        link = http.get(f"/api/user/{user['id']['id']}/activationLink").text
        http.post(
            "/api/noauth/activate",
            json={"activateToken": link.split("=", 1)[1], "password": "other-tenant"},
        )
    other = {"X-Authorization": "Bearer " + login(target.url, email, "other-tenant")}
    with httpx.Client(base_url=target.url, headers=other, timeout=30) as http:
        for path in (
            f"/api/otaPackage/info/{package['id']['id']}",
            f"/api/otaPackage/{package['id']['id']}/download",
        ):
            status = http.get(path).status_code
            assert status == 404, rule(
                "§7", f"another tenant's package answers 404 ({path}: {status})"
            )
