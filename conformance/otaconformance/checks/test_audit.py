"""The user guide's Provisioning: "in Audit logs you can browse firmware status". otakit keeps an
audit log in ThingsBoard's shape (`/api/audit/logs/entity/{entityType}/{entityId}`); each package
action leaves one entry naming the action, the entity, the user and the outcome."""

from __future__ import annotations

import json
from typing import Any

import pytest

from otaconformance.packaging import IMAGE
from otaconformance.target import KINDS, Entity, Kind, Target, rule

kinds = pytest.mark.parametrize("kind", KINDS, ids=str)


def entries(target: Target, entity_type: str, entity_id: str) -> list[Entity]:
    found = target.call(
        "GET",
        f"/api/audit/logs/entity/{entity_type}/{entity_id}",
        params={"pageSize": 100, "page": 0, "sortProperty": "createdTime", "sortOrder": "ASC"},
    )
    return list(found["data"])


def one(found: list[Entity], action: str, status: str, rule_id: str, what: str) -> Entity:
    """The only entry of `found` with that action and status."""
    matching = [e for e in found if (e["actionType"], e["actionStatus"]) == (action, status)]
    seen = [(e["actionType"], e["actionStatus"]) for e in found]
    assert len(matching) == 1, rule(
        rule_id, f"{what}: {len(matching)} {action} {status} entries among {seen}"
    )
    return matching[0]


def check_entry(entry: Entity, entity: Entity, user: Entity, rule_id: str, what: str) -> None:
    assert entry["entityId"] == entity["id"], rule(
        rule_id, f"{what}: the entry names {entry['entityId']}, not {entity['id']}"
    )
    by = (entry["userId"]["id"], entry["userName"])
    assert by == (user["id"]["id"], user["email"]), rule(
        rule_id, f"{what}: the entry names the user {by}"
    )


def names(entry: Entity, package: Entity) -> bool:
    """Whether the entry's actionData names the package (its id, anywhere in it)."""
    data: Any = entry.get("actionData")
    return package["id"]["id"] in json.dumps(data)


@pytest.mark.otakit_extension
@pytest.mark.rules(
    "audit.package-created",
    "audit.package-uploaded",
    "audit.package-updated",
    "audit.package-deleted",
    "audit.package-assigned",
    "audit.package-unassigned",
    "audit.failure-recorded",
)
@kinds
def test_package_actions_are_audited(target: Target, profile: str, kind: Kind) -> None:
    user = target.call("GET", "/api/auth/user")
    package = target.package_info(profile, kind)
    target.upload(package, IMAGE, checksum="0" * 64, expect=400)
    package = target.upload(package, IMAGE).json()
    target.call(
        "POST", "/api/otaPackage", json={**package, "additionalInfo": {"description": "audited"}}
    )
    device, _ = target.device(profile)
    target.assign(device, package)
    refused = target.http.delete(f"/api/otaPackage/{package['id']['id']}")
    assert refused.status_code == 400, f"a delete while in use: {refused.status_code}"
    target.assign(device, None, kind)
    assert target.assign_profile(profile, package).status_code == 200
    assert target.assign_profile(profile, None, kind).status_code == 200
    target.call("DELETE", f"/api/otaPackage/{package['id']['id']}")

    logged = entries(target, "OTA_PACKAGE", package["id"]["id"])
    for action, rule_id in (
        ("ADDED", "audit.package-created"),
        ("OTA_PACKAGE_UPLOADED", "audit.package-uploaded"),
        ("UPDATED", "audit.package-updated"),
        ("DELETED", "audit.package-deleted"),
    ):
        entry = one(logged, action, "SUCCESS", rule_id, "the package")
        check_entry(entry, package, user, rule_id, action)
        assert entry["entityName"] == package["title"], rule(
            rule_id, f"{action}: entityName {entry['entityName']}, not {package['title']}"
        )
    for action, what in (("OTA_PACKAGE_UPLOADED", "a wrong checksum"), ("DELETED", "in use")):
        failed = one(logged, action, "FAILURE", "audit.failure-recorded", what)
        check_entry(failed, package, user, "audit.failure-recorded", what)
        assert failed.get("actionFailureDetails"), rule(
            "audit.failure-recorded", f"{what}: the FAILURE entry gives no reason"
        )

    profile_entity = {"id": {"entityType": "DEVICE_PROFILE", "id": profile}}
    for entity, what in ((device, "the device"), (profile_entity, "the profile")):
        logged = entries(target, entity["id"]["entityType"], entity["id"]["id"])
        assigned = one(logged, "OTA_PACKAGE_ASSIGNED", "SUCCESS", "audit.package-assigned", what)
        check_entry(assigned, entity, user, "audit.package-assigned", what)
        assert names(assigned, package), rule(
            "audit.package-assigned",
            f"{what}: the entry does not name the package: {assigned.get('actionData')}",
        )
        unassigned = one(
            logged, "OTA_PACKAGE_UNASSIGNED", "SUCCESS", "audit.package-unassigned", what
        )
        check_entry(unassigned, entity, user, "audit.package-unassigned", what)
        # What changed, as otakit records it: the new package and the one before.
        previous = "previous" + kind.field[0].upper() + kind.field[1:]
        package_id = package["id"]["id"]
        for entry, wanted, rule_id in (
            (assigned, {kind.field: package_id, previous: None}, "audit.package-assigned"),
            (unassigned, {kind.field: None, previous: package_id}, "audit.package-unassigned"),
        ):
            data = entry.get("actionData") or {}
            got = {key: data.get(key) for key in wanted}
            assert got == wanted, rule(rule_id, f"{what}: the entry's change is {data}")
