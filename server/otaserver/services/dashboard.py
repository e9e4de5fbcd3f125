"""What the firmware dashboard shows (spec §8): counts per tab, the device table, histories."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from ..domain.dashboard_stats import Timeline, duration_stats, durations_between, update_duration
from ..domain.enums import Authority, OtaPackageType, UpdateStatus
from ..domain.errors import BadRequest
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
from .ports import Clock, Repositories, StateFilter, Storage

HISTORY_LIMIT = 10_000
DAY_MS = 24 * 3600 * 1000
# The tabs of devices not finished: a stale one there is stuck.
UNFINISHED = (Tab.WAITING, Tab.UPDATING)


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
    # Until the next entry; None for the last.
    duration_ms: int | None = None


@dataclass(frozen=True)
class Filters:
    """The dashboard's filters: a package type, and optionally a target package and a profile."""

    package_type: OtaPackageType
    package_id: UUID | None = None
    profile_id: UUID | None = None


class Dashboard:
    def __init__(self, storage: Storage, clock: Clock) -> None:
        self._storage = storage
        self._clock = clock

    async def counts(self, principal: Principal, filters: Filters) -> dict[str, int]:
        tenant_id = principal.require_tenant()
        async with self._storage.reading() as repos:
            await self._check_filters(principal, repos, filters)
            by_status = await repos.ota.counts(
                tenant_id,
                filters.package_type,
                filters.package_id,
                filters.profile_id,
                customer_of(principal),
            )
        tabs = {tab.value: 0 for tab in Tab}
        for status, count in by_status.items():
            known = known_status(status)
            if known is not None:
                tabs[TAB_OF[known].value] += count
        return {**tabs, "total": sum(by_status.values())}

    async def _check_filters(self, principal: Principal, repos: Any, filters: Filters) -> None:
        if filters.package_id is not None:
            visible(principal, await repos.packages.get(filters.package_id))
        if filters.profile_id is not None:
            visible(principal, await repos.profiles.get(filters.profile_id))

    def _where(
        self,
        principal: Principal,
        filters: Filters,
        tab: Tab | None = None,
        stale_for_ms: int | None = None,
        text_search: str | None = None,
    ) -> StateFilter:
        statuses = None if tab is None else {s.value for s, t in TAB_OF.items() if t is tab}
        changed_before = None
        if stale_for_ms is not None:
            # Stuck: not finished (waiting or updating) and unchanged for so long.
            unfinished = {s.value for s, t in TAB_OF.items() if t in UNFINISHED}
            statuses = unfinished if statuses is None else statuses & unfinished
            changed_before = self._clock.now_ms() - stale_for_ms
        return StateFilter(
            tenant_id=principal.require_tenant(),
            package_type=filters.package_type,
            package_id=filters.package_id,
            profile_id=filters.profile_id,
            customer_id=customer_of(principal),
            statuses=None if statuses is None else sorted(statuses),
            text_search=text_search,
            changed_before=changed_before,
        )

    async def devices(
        self,
        principal: Principal,
        request: PageRequest,
        filters: Filters,
        tab: Tab | None,
        stale_for_ms: int | None = None,
    ) -> Page:
        where = self._where(principal, filters, tab, stale_for_ms, request.text_search)
        async with self._storage.reading() as repos:
            await self._check_filters(principal, repos, filters)
            page = await repos.ota.page_states(request, where)
            rows = await _rows(repos, page.data, filters.package_type)
        return Page(rows, page.total_elements, page.page_size, page.page)

    async def all_devices(
        self,
        principal: Principal,
        filters: Filters,
        tab: Tab | None,
        stale_for_ms: int | None = None,
        text_search: str | None = None,
    ) -> list[DeviceRow]:
        """Every row `devices` pages through, in the same order."""
        where = self._where(principal, filters, tab, stale_for_ms, text_search)
        async with self._storage.reading() as repos:
            await self._check_filters(principal, repos, filters)
            found = await repos.ota.list_states(where)
            return await _rows(repos, found, filters.package_type)

    async def changed_rows(
        self, principal: Principal, filters: Filters, device_ids: Collection[UUID], limit: int
    ) -> tuple[list[DeviceRow], bool]:
        """The rows of these devices that the filters and the user's scope keep, at most
        `limit`, and whether more were kept."""
        if not device_ids:
            return [], False
        where = self._where(principal, filters)
        async with self._storage.reading() as repos:
            found = await repos.ota.list_states(where, list(device_ids), limit + 1)
            rows = await _rows(repos, found[:limit], filters.package_type)
        return rows, len(found) > limit

    async def history(
        self, principal: Principal, device_id: UUID, package_type: OtaPackageType
    ) -> list[HistoryEntry]:
        """Every status the device went through, oldest first, with the error of a FAILED,
        the package it was being sent to then and how long it stayed."""
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
        points = series.get(state_key(package_type), [])
        entries = []
        target = 0  # index of the first assignment after the current entry
        durations = durations_between([p.ts for p in points])
        for point, duration in zip(points, durations, strict=True):
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
                    duration,
                )
            )
        return entries

    async def timeline(
        self,
        principal: Principal,
        filters: Filters,
        start_ts: int | None,
        end_ts: int | None,
        buckets: int,
    ) -> dict[str, Any]:
        """Devices per tab at the end of each bucket, from the devices' state history. The
        devices are those the filters select now."""
        end = self._clock.now_ms() if end_ts is None else end_ts
        start = end - DAY_MS if start_ts is None else start_ts
        if start >= end:
            raise BadRequest("Parameter 'startTs' must be before 'endTs'")
        timeline = Timeline.over(start, end, buckets)
        where = self._where(principal, filters)
        async with self._storage.reading() as repos:
            await self._check_filters(principal, repos, filters)
            states = await repos.ota.bucket_states(where, start, end, timeline.interval_ms)
        return {
            "startTs": start,
            "endTs": end,
            "intervalMs": timeline.interval_ms,
            "points": timeline.points(states.before, states.buckets),
        }

    async def durations(self, principal: Principal, filters: Filters) -> dict[str, Any]:
        """Time from QUEUED (else INITIATED) to UPDATED, of the devices whose current target
        is UPDATED."""
        where = self._where(principal, filters)
        async with self._storage.reading() as repos:
            await self._check_filters(principal, repos, filters)
            times = await repos.ota.update_times(where)
        found = [update_duration(*t) for t in times]
        return duration_stats([d for d in found if d is not None])


async def _rows(
    repos: Repositories, found: Sequence[dict[str, Any]], package_type: OtaPackageType
) -> list[DeviceRow]:
    """Dashboard rows of state rows: their packages and current versions read in bulk."""
    targets = {row["package_id"] for row in found if row.get("package_id") is not None}
    packages = await repos.packages.get_many(list(targets))
    current = await repos.device_data.latest_telemetry_of(
        [row["id"] for row in found], list(current_keys(package_type))
    )
    return [
        _row(
            row,
            packages.get(row["package_id"]) if row.get("package_id") else None,
            current.get(row["id"], {}),
            package_type,
        )
        for row in found
    ]


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def customer_of(principal: Principal) -> UUID | None:
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
