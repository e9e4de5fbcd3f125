"""Spec §7 and the guide's Overview: the role matrix, every OTA endpoint by every REST caller.

Each cell is one call by one role and a cheap look, by the tenant administrator, at what the
call touched: a refused call must change nothing. What the cells share (the callers, a profile,
its packages, a device of a customer) is made once for the module; a cell that changes a package
makes its own, and a cell that assigns puts the shared device or profile back.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from otaconformance.roles import Callers, callers, give_to_customer
from otaconformance.rules import Role
from otaconformance.target import FIRMWARE, SOFTWARE, Entity, Target, rule

DATA = b"role matrix " * 40
KEPT = "kept"  # the description a refused update must leave
OK, FORBIDDEN, UNAUTHORIZED = frozenset({200}), frozenset({403}), frozenset({401})
HIDDEN = frozenset({403, 404})  # another tenant's entity: 403 on ThingsBoard, 404 on otakit

# Who may call a tenant administrator's endpoint; the tables below change what differs.
ADMIN_ONLY: dict[Role, frozenset[int]] = {
    Role.SYSADMIN: FORBIDDEN,  # the system administrator has no tenant, hence no packages
    Role.TENANT_ADMIN: OK,
    Role.OTHER_TENANT_ADMIN: HIDDEN,
    Role.CUSTOMER_USER: FORBIDDEN,
    Role.OTHER_CUSTOMER_USER: FORBIDDEN,
    Role.NO_TOKEN: UNAUTHORIZED,
    Role.EXPIRED_TOKEN: UNAUTHORIZED,
}
# ThingsBoard lets customer users read the tenant's package infos and lists.
READABLE = {**ADMIN_ONLY, Role.CUSTOMER_USER: OK, Role.OTHER_CUSTOMER_USER: OK}
EXPECTED: dict[str, dict[Role, frozenset[int]]] = {
    "role.create-package": {**ADMIN_ONLY, Role.OTHER_TENANT_ADMIN: frozenset({400, 403, 404})},
    "role.update-package": ADMIN_ONLY,
    "role.upload-package": ADMIN_ONLY,
    "role.read-info": READABLE,
    "role.read-package": ADMIN_ONLY,
    "role.download": ADMIN_ONLY,
    # Another tenant lists its own packages: 200, without ours.
    "role.list": {**READABLE, Role.OTHER_TENANT_ADMIN: OK},
    # ThingsBoard lists our profile's packages of the caller's tenant (none); otakit hides it.
    "role.list-assignable": {**READABLE, Role.OTHER_TENANT_ADMIN: frozenset({200, 403, 404})},
    "role.delete": ADMIN_ONLY,
    # The guide: customers assign existing packages to their devices (not another's).
    "role.assign-device": {**ADMIN_ONLY, Role.CUSTOMER_USER: OK, Role.OTHER_CUSTOMER_USER: HIDDEN},
    "role.assign-profile": ADMIN_ONLY,
}
# The roles that belong to our tenant, and so see its packages.
OUR_TENANT = (Role.TENANT_ADMIN, Role.CUSTOMER_USER, Role.OTHER_CUSTOMER_USER)


def roles(*extensions: Role) -> pytest.MarkDecorator:
    """Every role; the cells of `extensions` check what otakit does beyond ThingsBoard."""
    return pytest.mark.parametrize(
        "role",
        [
            pytest.param(one, marks=pytest.mark.otakit_extension) if one in extensions else one
            for one in Role
        ],
        ids=str,
    )


@dataclass
class World:
    """What the cells share, made once: the callers, a profile with a firmware and a software
    package (with data), and a device of the customer whose user is CUSTOMER_USER, with nothing
    assigned. (A cell that changes a package changes one of its own: a wrong success of one cell
    must not fail the next.)"""

    target: Target
    callers: Callers
    profile_id: str
    firmware: Entity
    software: Entity
    device: Entity

    def caller(self, role: Role) -> httpx.Client:
        found = self.callers.client(role)
        if found is None:
            pytest.skip(f"{role.value}: {self.callers.missing[role]}")
        return found

    def info(self, package: Entity) -> Entity:
        return self.target.call(  # type: ignore[no-any-return]
            "GET", f"/api/otaPackage/info/{package['id']['id']}"
        )


@pytest.fixture(scope="module")
def world(target: Target) -> Iterator[World]:
    with callers(target) as found:
        profile_id = target.profile()
        firmware = target.package(profile_id, DATA, FIRMWARE)
        software = target.package(profile_id, DATA, SOFTWARE)
        device, _ = target.device(profile_id)
        device = give_to_customer(target, found.customer_id, device)
        yield World(target, found, profile_id, firmware, software, device)


def expect(rule_id: str, role: Role, response: httpx.Response) -> bool:
    """Whether the call succeeded; fails the cell when its status is not the role's."""
    wanted = EXPECTED[rule_id][role]
    request = response.request
    assert response.status_code in wanted, rule(
        rule_id,
        f"{role.value}: {request.method} {request.url.path} gave {response.status_code} "
        f"(expected {' or '.join(map(str, sorted(wanted)))}): {response.text[:200]}",
    )
    return response.status_code == 200


def package_body(world: World, title: str) -> Entity:
    return {
        "title": title,
        "version": "1.0",
        "type": FIRMWARE.type,
        "deviceProfileId": {"entityType": "DEVICE_PROFILE", "id": world.profile_id},
    }


def listed_titles(answer: Any) -> list[str]:
    return [one["title"] for one in answer["data"]]


@pytest.mark.rules("role.create-package")
@roles(Role.OTHER_TENANT_ADMIN)
def test_create_package(world: World, role: Role) -> None:
    title = f"conf-role-{uuid.uuid4().hex[:8]}"
    made = expect(
        "role.create-package",
        role,
        world.caller(role).post("/api/otaPackage", json=package_body(world, title)),
    )
    found = world.target.call(
        "GET", "/api/otaPackages", params={"pageSize": 10, "page": 0, "textSearch": title}
    )
    assert listed_titles(found) == ([title] if made else []), rule(
        "role.create-package", f"{role.value}: our tenant lists {listed_titles(found)}"
    )


@pytest.mark.rules("role.update-package")
@roles()
def test_update_package(world: World, role: Role) -> None:
    package = world.target.package_info(world.profile_id, additionalInfo={"description": KEPT})
    changed = {**world.info(package), "additionalInfo": {"description": f"by {role.name}"}}
    updated = expect(
        "role.update-package", role, world.caller(role).post("/api/otaPackage", json=changed)
    )
    now = (world.info(package).get("additionalInfo") or {}).get("description")
    assert now == (f"by {role.name}" if updated else KEPT), rule(
        "role.update-package", f"{role.value}: the description is now {now!r}"
    )


@pytest.mark.rules("role.upload-package")
@roles()
def test_upload_package(world: World, role: Role) -> None:
    package = world.target.package_info(world.profile_id)
    uploaded = expect(
        "role.upload-package",
        role,
        world.caller(role).post(
            f"/api/otaPackage/{package['id']['id']}",
            params={"checksumAlgorithm": "SHA256"},
            files={"file": ("image.bin", DATA, "application/octet-stream")},
        ),
    )
    assert world.info(package)["hasData"] is uploaded, rule(
        "role.upload-package", f"{role.value}: hasData is not {uploaded} after the call"
    )


@pytest.mark.rules("role.read-info")
@roles(Role.OTHER_TENANT_ADMIN)
def test_read_info(world: World, role: Role) -> None:
    path = f"/api/otaPackage/info/{world.firmware['id']['id']}"
    response = world.caller(role).get(path)
    if expect("role.read-info", role, response):
        assert response.json()["id"] == world.firmware["id"], rule(
            "role.read-info", f"{role.value}: another package: {response.text[:200]}"
        )


@pytest.mark.rules("role.read-package")
@roles()
def test_read_package(world: World, role: Role) -> None:
    response = world.caller(role).get(f"/api/otaPackage/{world.firmware['id']['id']}")
    if expect("role.read-package", role, response):
        assert response.json()["id"] == world.firmware["id"], rule(
            "role.read-package", f"{role.value}: another package: {response.text[:200]}"
        )


@pytest.mark.rules("role.download")
@roles()
def test_download(world: World, role: Role) -> None:
    response = world.caller(role).get(f"/api/otaPackage/{world.firmware['id']['id']}/download")
    if expect("role.download", role, response):
        assert response.content == DATA, rule("role.download", f"{role.value}: other bytes")


@pytest.mark.rules("role.list")
@roles()
def test_list(world: World, role: Role) -> None:
    title = world.firmware["title"]
    response = world.caller(role).get(
        "/api/otaPackages", params={"pageSize": 10, "page": 0, "textSearch": title}
    )
    if expect("role.list", role, response):
        titles = listed_titles(response.json())
        assert titles == ([title] if role in OUR_TENANT else []), rule(
            "role.list", f"{role.value}: listed {titles}"
        )


@pytest.mark.rules("role.list-assignable")
@roles()
def test_list_assignable(world: World, role: Role) -> None:
    response = world.caller(role).get(
        f"/api/otaPackages/{world.profile_id}/{FIRMWARE.type}", params={"pageSize": 100, "page": 0}
    )
    if expect("role.list-assignable", role, response):
        # Our tenant's cells add packages to the profile: only the shared one is looked for.
        titles = listed_titles(response.json())
        assert (world.firmware["title"] in titles) is (role in OUR_TENANT), rule(
            "role.list-assignable", f"{role.value}: listed {titles}"
        )


@pytest.mark.rules("role.delete")
@roles()
def test_delete(world: World, role: Role) -> None:
    package = world.target.package_info(world.profile_id)
    path = f"/api/otaPackage/info/{package['id']['id']}"
    deleted = expect(
        "role.delete", role, world.caller(role).delete(f"/api/otaPackage/{package['id']['id']}")
    )
    status = world.target.http.get(path).status_code
    assert status == (404 if deleted else 200), rule(
        "role.delete", f"{role.value}: the package's info then gave {status}"
    )


def assigned(entity: Entity) -> tuple[Any, Any]:
    return entity.get(FIRMWARE.field), entity.get(SOFTWARE.field)


@pytest.mark.rules("role.assign-device")
@roles()
def test_assign_device(world: World, role: Role) -> None:
    target, path = world.target, f"/api/device/{world.device['id']['id']}"
    current = target.call("GET", path)
    both = {FIRMWARE.field: world.firmware["id"], SOFTWARE.field: world.software["id"]}
    response = world.caller(role).post("/api/device", json={**current, **both})
    try:
        done = expect("role.assign-device", role, response)
        now = assigned(target.call("GET", path))
        wanted = assigned(both) if done else assigned(current)
        assert now == wanted, rule("role.assign-device", f"{role.value}: the device has {now}")
    finally:
        if response.status_code == 200:  # puts the shared device back, for the other cells
            target.save_device(world.device, **dict.fromkeys(both))


@pytest.mark.rules("role.assign-profile")
@roles()
def test_assign_profile(world: World, role: Role) -> None:
    target, path = world.target, f"/api/deviceProfile/{world.profile_id}"
    current = target.call("GET", path)
    both = {FIRMWARE.field: world.firmware["id"], SOFTWARE.field: world.software["id"]}
    response = world.caller(role).post("/api/deviceProfile", json={**current, **both})
    try:
        done = expect("role.assign-profile", role, response)
        now = assigned(target.call("GET", path))
        wanted = assigned(both) if done else assigned(current)
        assert now == wanted, rule("role.assign-profile", f"{role.value}: the profile has {now}")
    finally:
        if response.status_code == 200:
            profile = target.call("GET", path)
            target.call("POST", "/api/deviceProfile", json={**profile, **dict.fromkeys(both)})
