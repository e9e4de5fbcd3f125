"""Isolation: a device sees only its own attributes and package; tenants see only their own."""

from __future__ import annotations

import pytest
from otaclient import protocol as wire
from otatarget.rest import call, client

from otaconformance.devices import HttpDevice, MqttDevice
from otaconformance.target import Target, rule

HIDDEN = (403, 404)  # ThingsBoard says 403 for another tenant's entity, otakit 404


def test_a_device_never_sees_another_devices(target: Target, profile: str) -> None:
    mine, theirs = target.package(profile, b"mine" * 64), target.package(profile, b"theirs" * 64)
    _, my_token = target.device(profile, firmwareId=mine["id"])
    other, _ = target.device(profile, firmwareId=theirs["id"])
    target.call(
        "POST",
        f"/api/plugins/telemetry/DEVICE/{other['id']['id']}/SHARED_SCOPE",
        json={"secret": "theirs"},
    )
    with HttpDevice(target.url, my_token) as http:
        response = http.get("firmware", title=theirs["title"], version=theirs["version"])
        assert response.status_code != 200 or response.content != b"theirs" * 64, rule(
            "§6", "a device never gets another device's package"
        )
        shared = http.get("attributes", sharedKeys="secret").json()
    assert "secret" not in shared.get("shared", {}), rule(
        "§6", "a device never reads another device's attributes"
    )


def test_pushes_reach_only_their_device(target: Target, profile: str) -> None:
    package = target.package(profile, b"push" * 64)
    addressee, addressee_token = target.device(profile)
    _, bystander_token = target.device(profile)
    with (
        MqttDevice(target.mqtt_host, target.mqtt_port, addressee_token) as first,
        MqttDevice(target.mqtt_host, target.mqtt_port, bystander_token) as second,
    ):
        for mqtt in (first, second):
            mqtt.subscribe(wire.ATTRIBUTES_TOPIC)
        target.assign(addressee, package)
        assert first.expect(wire.ATTRIBUTES_TOPIC, timeout=target.notify_timeout) is not None
        assert second.expect(wire.ATTRIBUTES_TOPIC, timeout=1) is None, rule(
            "§6.2", "an attribute push reaches only the device it is for"
        )


def test_another_tenant_cannot_reach_our_packages(target: Target, profile: str) -> None:
    if target.sysadmin is None:
        pytest.skip("needs --sysadmin-username and --sysadmin-password to make a second tenant")
    package = target.package(profile, b"private" * 10)
    package_id = package["id"]["id"]
    device, _ = target.device(profile, firmwareId=package["id"])
    with client(target.url, *target.new_tenant_admin("other")) as other:
        for method, path in (
            ("GET", f"/api/otaPackage/info/{package_id}"),
            ("GET", f"/api/otaPackage/{package_id}/download"),
            ("DELETE", f"/api/otaPackage/{package_id}"),
            ("GET", f"/api/device/{device['id']['id']}"),
            ("GET", f"/api/plugins/telemetry/DEVICE/{device['id']['id']}/values/timeseries"),
        ):
            status = other.request(method, path).status_code
            assert status in HIDDEN, rule(
                "§7", f"another tenant cannot reach our entities: {method} {path} gave {status}"
            )
        listed = call(
            other,
            "GET",
            "/api/otaPackages",
            params={"pageSize": 10, "page": 0, "textSearch": package["title"]},
        )
        assert listed["data"] == [], rule("§7", "another tenant's list leaves out our packages")
        their_profile = call(other, "GET", "/api/deviceProfileInfo/default")["id"]["id"]
        their_device = call(
            other,
            "POST",
            "/api/device",
            json={
                "name": "theirs",
                "deviceProfileId": {"entityType": "DEVICE_PROFILE", "id": their_profile},
            },
        )
        assigned = other.post("/api/device", json={**their_device, "firmwareId": package["id"]})
        assert assigned.status_code in (400, *HIDDEN), rule(
            "§4.5", f"another tenant cannot assign our package, got {assigned.status_code}"
        )
    assert target.call("GET", f"/api/otaPackage/info/{package_id}")["hasData"], rule(
        "§7", "another tenant's delete leaves our package"
    )
