"""What the firmware dashboard shows (spec §8): counts per tab, the device table, histories."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from ..domain.enums import Authority, OtaPackageType, UpdateStatus
from ..domain.model import Page, PageRequest
from ..domain.orchestration import (
    TAB_OF,
    Tab,
    current_keys,
    error_key,
    known_status,
    progress,
    state_key,
    target_keys,
)
from .access import Principal, visible
from .ports import Storage

HISTORY_LIMIT = 10_000


@dataclass(frozen=True)
class DeviceRow:
    device_id: UUID
    device_name: str
    current_title: Any
    current_version: Any
    target_title: str | None
    target_version: str | None
    status: str | None
    progress: int | None
    last_change: int | None
    error: str | None
    retries: int
    finished: bool


@dataclass(frozen=True)
class HistoryEntry:
    ts: int
    status: str
    error: str | None
    # The package the device was being sent to when it reported: the target of the latest
    # assignment at or before `ts`; None before any.
    title: str | None
    version: str | None


class Dashboard:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    async def counts(
        self,
        principal: Principal,
        package_type: OtaPackageType,
        package_id: UUID | None,
        profile_id: UUID | None,
    ) -> dict[str, int]:
        tenant_id = principal.require_tenant()
        async with self._storage.reading() as repos:
            await self._check_filters(principal, repos, package_id, profile_id)
            by_status = await repos.ota.counts(
                tenant_id, package_type, package_id, profile_id, _customer_of(principal)
            )
        tabs = {tab.value: 0 for tab in Tab}
        for status, count in by_status.items():
            known = known_status(status)
            if known is not None:
                tabs[TAB_OF[known].value] += count
        return {**tabs, "total": sum(by_status.values())}

    async def _check_filters(
        self, principal: Principal, repos: Any, package_id: UUID | None, profile_id: UUID | None
    ) -> None:
        if package_id is not None:
            visible(principal, await repos.packages.get(package_id))
        if profile_id is not None:
            visible(principal, await repos.profiles.get(profile_id))

    async def devices(
        self,
        principal: Principal,
        request: PageRequest,
        package_type: OtaPackageType,
        package_id: UUID | None,
        profile_id: UUID | None,
        tab: Tab | None,
    ) -> Page:
        tenant_id = principal.require_tenant()
        statuses = None if tab is None else [s.value for s, t in TAB_OF.items() if t is tab]
        async with self._storage.reading() as repos:
            await self._check_filters(principal, repos, package_id, profile_id)
            page = await repos.ota.page_states(
                request,
                tenant_id,
                package_type,
                package_id,
                profile_id,
                _customer_of(principal),
                statuses,
            )
            rows = []
            packages: dict[UUID, Any] = {}
            for row in page.data:
                target = row.get("package_id")
                if target is not None and target not in packages:
                    packages[target] = await repos.packages.get(target)
                current = await repos.device_data.latest_telemetry(
                    row["id"], list(current_keys(package_type))
                )
                rows.append(
                    _row(row, packages.get(target) if target else None, current, package_type)
                )
        return Page(rows, page.total_elements, page.page_size, page.page)

    async def history(
        self, principal: Principal, device_id: UUID, package_type: OtaPackageType
    ) -> list[HistoryEntry]:
        """Every status the device went through, oldest first, with the error of a FAILED and
        the package it was being sent to then."""
        principal.require_tenant()
        title_key, version_key = target_keys(package_type)
        async with self._storage.reading() as repos:
            visible(principal, await repos.devices.get(device_id))
            series = await repos.device_data.telemetry(
                device_id,
                [state_key(package_type), error_key(package_type), title_key, version_key],
                0,
                2**62,
                HISTORY_LIMIT,
                descending=False,
            )
        errors = {p.ts: str(p.value) for p in series.get(error_key(package_type), [])}
        titles = series.get(title_key, [])
        versions = {p.ts: p.value for p in series.get(version_key, [])}
        entries = []
        target = 0  # index of the first assignment after the current entry
        for point in series.get(state_key(package_type), []):
            while target < len(titles) and titles[target].ts <= point.ts:
                target += 1
            assigned = titles[target - 1] if target else None
            entries.append(
                HistoryEntry(
                    point.ts,
                    str(point.value),
                    errors.get(point.ts),
                    None if assigned is None else str(assigned.value),
                    None if assigned is None else _text(versions.get(assigned.ts)),
                )
            )
        return entries


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _customer_of(principal: Principal) -> UUID | None:
    """A customer user sees their customer's devices only; others the whole tenant's."""
    return principal.customer_id if principal.authority is Authority.CUSTOMER_USER else None


def _row(
    row: dict[str, Any], package: Any, current: dict[str, Any], package_type: OtaPackageType
) -> DeviceRow:
    title_key, version_key = current_keys(package_type)
    title = current[title_key].value if title_key in current else None
    version = current[version_key].value if version_key in current else None
    status = row.get("status")
    finished = (
        package is not None
        and status == UpdateStatus.UPDATED.value
        and (title, version) == (package.title, package.version)
    )
    return DeviceRow(
        device_id=row["id"],
        device_name=row["name"],
        current_title=title,
        current_version=version,
        target_title=package.title if package else None,
        target_version=package.version if package else None,
        status=status,
        progress=progress(status),
        last_change=row.get("status_ts"),
        error=row.get("error"),
        retries=row.get("retries") or 0,
        finished=finished,
    )
