"""Checks and audits a change of the packages assigned to a device or a device profile."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from ..domain.enums import ActionType, OtaPackageType
from ..domain.rules import check_assignable
from .audit import AuditRecord
from .ports import Repositories


@dataclass(frozen=True)
class Assigned:
    """The firmware and software a device or profile points to."""

    firmware_id: UUID | None
    software_id: UUID | None

    def of(self, package_type: OtaPackageType) -> UUID | None:
        return self.firmware_id if package_type is OtaPackageType.FIRMWARE else self.software_id


async def check_assignment(
    repos: Repositories,
    tenant_id: UUID,
    profile_id: UUID,
    before: Assigned | None,
    after: Assigned,
    profile_changed: bool,
    record: AuditRecord,
) -> list[OtaPackageType]:
    """Validates each newly set package (spec §4.5) and notes the change in the audit record.

    Returns the package types whose assignment changed.
    """
    changed = []
    for package_type in OtaPackageType:
        old = before.of(package_type) if before else None
        new = after.of(package_type)
        if old == new and not (new and profile_changed):
            continue
        if old != new:
            changed.append(package_type)
            record.data[package_type.assignment_field] = str(new) if new else None
            record.data[
                "previous"
                + package_type.assignment_field[0].upper()
                + package_type.assignment_field[1:]
            ] = str(old) if old else None
            record.action = (
                ActionType.OTA_PACKAGE_ASSIGNED
                if new or record.action is ActionType.OTA_PACKAGE_ASSIGNED
                else ActionType.OTA_PACKAGE_UNASSIGNED
            )
        if new:
            package = await repos.packages.get(new)
            check_assignable(package, package_type, tenant_id, profile_id)
    return changed
