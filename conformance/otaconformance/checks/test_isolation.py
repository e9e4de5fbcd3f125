"""Isolation: a device sees only its own attributes and package; tenants see only their own."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from otaclient import protocol as wire
from otatarget.rest import call

from otaconformance.devices import HttpDevice, MqttDevice
from otaconformance.roles import administrators, bare_client
from otaconformance.rules import Transport
from otaconformance.target import KINDS, Entity, Kind, Target, rule

HIDDEN = (403, 404)  # ThingsBoard says 403 for another tenant's entity, otakit 404
kinds = pytest.mark.parametrize("kind", KINDS, ids=str)


@pytest.mark.rules(
    "isolation.device-package", "isolation.device-attributes", transports=(Transport.HTTP,)
)
@kinds
def test_a_device_never_sees_another_devices(target: Target, profile: str, kind: Kind) -> None:
    mine = target.package(profile, b"mine" * 64, kind=kind)
    theirs = target.package(profile, b"theirs" * 64, kind=kind)
    _, my_token = target.device(profile, **{kind.field: mine["id"]})
    other, _ = target.device(profile, **{kind.field: theirs["id"]})
    target.call(
        "POST",
        f"/api/plugins/telemetry/DEVICE/{other['id']['id']}/SHARED_SCOPE",
        json={"secret": "theirs"},
    )
    with HttpDevice(target.url, my_token) as http:
        response = http.get(kind.path, title=theirs["title"], version=theirs["version"])
        assert response.status_code != 200 or response.content != b"theirs" * 64, rule(
            "isolation.device-package", f"got the other device's {kind.path}"
        )
        shared = http.get("attributes", sharedKeys="secret").json()
    assert "secret" not in shared.get("shared", {}), rule(
        "isolation.device-attributes", f"read {shared}"
    )


@pytest.mark.rules("isolation.push-addressee", transports=(Transport.MQTT5,))
@kinds
def test_pushes_reach_only_their_device(target: Target, profile: str, kind: Kind) -> None:
    package = target.package(profile, b"push" * 64, kind=kind)
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
            "isolation.push-addressee", "the other device of the profile got it too"
        )


@dataclass(frozen=True)
class Ours:
    """A package of ours, with data, and a device of ours it is assigned to."""

    package: Entity
    device: Entity

    @property
    def package_id(self) -> str:
        return str(self.package["id"]["id"])

    @property
    def device_id(self) -> str:
        return str(self.device["id"]["id"])


@pytest.fixture(scope="module")
def ours(target: Target) -> dict[str, Ours]:
    """Per package type, made once for the module's checks between tenants."""
    profile = target.profile()
    found = {}
    for kind in KINDS:
        package = target.package(profile, b"private" * 10, kind=kind)
        device, _ = target.device(profile, **{kind.field: package["id"]})
        found[kind.type] = Ours(package, device)
    return found


@pytest.fixture(scope="module")
def other_tenant(target: Target) -> Iterator[httpx.Client]:
    """The administrator of a second tenant (the one the role matrix uses too)."""
    admins = administrators(target)
    if admins is None:
        pytest.skip("needs --sysadmin-username and --sysadmin-password to make a second tenant")
    with bare_client(target.url, admins.other_tenant_admin) as other:
        yield other


# What another tenant tries on our entities, each one request.
REACHES: dict[str, tuple[str, Callable[[Ours], str]]] = {
    "download": ("GET", lambda our: f"/api/otaPackage/{our.package_id}/download"),
    "delete": ("DELETE", lambda our: f"/api/otaPackage/{our.package_id}"),
    "device": ("GET", lambda our: f"/api/device/{our.device_id}"),
    "telemetry": (
        "GET",
        lambda our: f"/api/plugins/telemetry/DEVICE/{our.device_id}/values/timeseries",
    ),
}


@pytest.mark.rules("isolation.tenant-entities")
@pytest.mark.parametrize("reach", REACHES)
@kinds
def test_another_tenant_cannot_reach_our_packages(
    target: Target, ours: dict[str, Ours], other_tenant: httpx.Client, kind: Kind, reach: str
) -> None:
    our = ours[kind.type]
    method, path = REACHES[reach][0], REACHES[reach][1](our)
    status = other_tenant.request(method, path).status_code
    assert status in HIDDEN, rule("isolation.tenant-entities", f"{method} {path} gave {status}")
    if method == "DELETE":
        assert target.call("GET", f"/api/otaPackage/info/{our.package_id}")["hasData"], rule(
            "isolation.tenant-entities", "another tenant's delete did not leave our package"
        )


@pytest.mark.otakit_extension
@pytest.mark.rules("isolation.tenant-info")
@kinds
def test_another_tenant_cannot_read_our_package_info(
    ours: dict[str, Ours], other_tenant: httpx.Client, kind: Kind
) -> None:
    path = f"/api/otaPackage/info/{ours[kind.type].package_id}"
    status = other_tenant.get(path).status_code
    assert status in HIDDEN, rule("isolation.tenant-info", f"GET {path} gave {status}")


@pytest.mark.rules("isolation.tenant-list")
@kinds
def test_another_tenants_list_leaves_out_our_packages(
    ours: dict[str, Ours], other_tenant: httpx.Client, kind: Kind
) -> None:
    package = ours[kind.type].package
    listed = call(
        other_tenant,
        "GET",
        "/api/otaPackages",
        params={"pageSize": 10, "page": 0, "textSearch": package["title"]},
    )
    assert listed["data"] == [], rule("isolation.tenant-list", f"listed {listed['data']}")


@pytest.mark.rules(
    "isolation.tenant-assign",
    "assignment.other-tenant-refused",
    "assignment.refusal-changes-nothing",
)
@kinds
def test_another_tenant_cannot_assign_our_package(
    ours: dict[str, Ours], other_tenant: httpx.Client, kind: Kind
) -> None:
    package = ours[kind.type].package
    their_profile = call(other_tenant, "GET", "/api/deviceProfileInfo/default")["id"]["id"]
    their_device = call(
        other_tenant,
        "POST",
        "/api/device",
        json={
            "name": f"theirs-{kind}",
            "deviceProfileId": {"entityType": "DEVICE_PROFILE", "id": their_profile},
        },
    )
    device_path = f"/api/device/{their_device['id']['id']}"
    assigned = other_tenant.post("/api/device", json={**their_device, kind.field: package["id"]})
    assert assigned.status_code in (400, *HIDDEN), rule(
        "isolation.tenant-assign", f"to a device, got {assigned.status_code}"
    )
    full_profile = call(other_tenant, "GET", f"/api/deviceProfile/{their_profile}")
    assigned = other_tenant.post(
        "/api/deviceProfile", json={**full_profile, kind.field: package["id"]}
    )
    assert assigned.status_code in (400, *HIDDEN), rule(
        "assignment.other-tenant-refused", f"to a profile, got {assigned.status_code}"
    )
    kept = call(other_tenant, "GET", device_path).get(kind.field)
    kept_by_profile = call(other_tenant, "GET", f"/api/deviceProfile/{their_profile}")
    assert kept is None and kept_by_profile.get(kind.field) is None, rule(
        "assignment.refusal-changes-nothing",
        f"the refused assignments were kept: device {kept}, profile "
        f"{kept_by_profile.get(kind.field)}",
    )
    states = call(
        other_tenant,
        "GET",
        f"/api/plugins/telemetry/DEVICE/{their_device['id']['id']}/values/timeseries",
        params={"keys": kind.state},
    )
    assert not (states or {}).get(kind.state), rule(
        "assignment.refusal-changes-nothing", f"nothing is queued: {states}"
    )
