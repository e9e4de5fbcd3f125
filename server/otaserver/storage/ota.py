"""The update queue and each device's update status, over SQLAlchemy Core."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.enums import OtaPackageType
from ..domain.model import Page, PageRequest
from ..domain.orchestration import DASHBOARD_SORTS, PROGRESS, QueueState
from ..services.ports import BucketStates, QueueEntry, StateFilter, UpdateState
from . import ota_history, tables
from .bulk import chunked, insert, upsert
from .ota_filters import devices_with_states, state_conditions

PACE_ROW = 1


# (tenant, package type) -> the devices whose update state a transaction saved.
Touched = dict[tuple[UUID, OtaPackageType], set[UUID]]


class OtaRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection
        # Told to the change feed once the transaction commits (SqlStorage.transaction).
        self.touched: Touched = {}

    async def _execute(self, statement: sa.Executable) -> sa.CursorResult[Any]:
        return await self._connection.execute(statement)

    # ---- the queue ---------------------------------------------------------------------------

    async def enqueue(self, entries: Sequence[QueueEntry]) -> None:
        rows = [
            {
                "id": entry.id,
                "tenant_id": entry.tenant_id,
                "device_id": entry.device_id,
                "package_id": entry.package_id,
                "package_type": entry.package_type,
                "assigned_ts": entry.assigned_ts,
                "created_time": entry.created_time,
                "state": QueueState.PENDING,
                "processed_ts": None,
            }
            for entry in entries
        ]
        await insert(self._connection, tables.ota_queue, rows)

    async def lock_pace(self) -> None:
        """Serialises the queue workers of every process on the one database."""
        pace = tables.ota_pace
        if self._connection.dialect.name == "postgresql":
            await self._execute(sa.select(pace.c.id).where(pace.c.id == PACE_ROW).with_for_update())
        else:
            # SQLite locks the whole database for the first write of a transaction.
            await self._execute(sa.update(pace).where(pace.c.id == PACE_ROW).values(id=PACE_ROW))

    async def notified_since(self, since_ts: int) -> list[tuple[int, int]]:
        """(time, devices notified then) of the notifications after `since_ts`."""
        queue = tables.ota_queue
        rows = await self._execute(
            sa.select(queue.c.processed_ts, sa.func.count().label("devices"))
            .where(queue.c.state == QueueState.DONE, queue.c.processed_ts > since_ts)
            .group_by(queue.c.processed_ts)
        )
        return [(row.processed_ts, int(row.devices)) for row in rows]

    async def next_pending(self, limit: int) -> list[QueueEntry]:
        """The oldest `limit` waiting entries, oldest first."""
        queue = tables.ota_queue
        rows = await self._execute(
            sa.select(queue)
            .where(queue.c.state == QueueState.PENDING)
            .order_by(queue.c.created_time, queue.c.id)
            .limit(limit)
        )
        return [
            QueueEntry(
                id=row.id,
                tenant_id=row.tenant_id,
                device_id=row.device_id,
                package_id=row.package_id,
                package_type=row.package_type,
                assigned_ts=row.assigned_ts,
                created_time=row.created_time,
            )
            for row in rows
        ]

    async def finish(self, entry_ids: Sequence[UUID], state: QueueState, processed_ts: int) -> None:
        queue = tables.ota_queue
        for ids in chunked(entry_ids):
            await self._execute(
                sa.update(queue)
                .where(queue.c.id.in_(ids))
                .values(state=state, processed_ts=processed_ts)
            )

    async def pending_count(self) -> int:
        queue = tables.ota_queue
        result = await self._execute(
            sa.select(sa.func.count()).select_from(queue).where(queue.c.state == QueueState.PENDING)
        )
        return int(result.scalar_one())

    # ---- update states -----------------------------------------------------------------------

    async def state(self, device_id: UUID, package_type: OtaPackageType) -> UpdateState | None:
        return (await self.states([device_id])).get((device_id, package_type))

    async def states(
        self, device_ids: Sequence[UUID]
    ) -> dict[tuple[UUID, OtaPackageType], UpdateState]:
        """The update states of these devices, of both package types."""
        table = tables.ota_states
        found: dict[tuple[UUID, OtaPackageType], UpdateState] = {}
        for ids in chunked(device_ids):
            for row in await self._execute(sa.select(table).where(table.c.device_id.in_(ids))):
                state = UpdateState(**row._mapping)
                found[state.device_id, state.package_type] = state
        return found

    async def save_state(self, state: UpdateState) -> None:
        await self.save_states([state])

    async def save_states(self, states: Sequence[UpdateState]) -> None:
        """Inserts or replaces each state, in one statement per few thousand."""
        table = tables.ota_states
        rows = [{c.name: getattr(state, c.name) for c in table.c} for state in states]
        await upsert(self._connection, table, rows, ("device_id", "package_type"))
        for state in states:
            key = (state.tenant_id, state.package_type)
            self.touched.setdefault(key, set()).add(state.device_id)

    async def stuck(self, status: str, before_ts: int) -> list[UpdateState]:
        states = tables.ota_states
        rows = await self._execute(
            sa.select(states).where(
                states.c.status == status,
                states.c.status_ts < before_ts,
                states.c.package_id.is_not(None),
            )
        )
        return [UpdateState(**row._mapping) for row in rows]

    async def status_counts(self) -> dict[tuple[OtaPackageType, str], int]:
        """Devices per (package type, status) over every tenant, of devices with a target."""
        states, devices = tables.ota_states, tables.devices
        query = (
            sa.select(states.c.package_type, states.c.status, sa.func.count().label("devices"))
            .join(devices, devices.c.id == states.c.device_id)
            .where(states.c.package_id.is_not(None))
            .group_by(states.c.package_type, states.c.status)
        )
        return {
            (OtaPackageType(row.package_type), row.status): int(row.devices)
            for row in await self._execute(query)
        }

    async def counts(
        self,
        tenant_id: UUID,
        package_type: OtaPackageType,
        package_id: UUID | None,
        profile_id: UUID | None,
        customer_id: UUID | None,
    ) -> dict[str, int]:
        states, devices = tables.ota_states, tables.devices
        query = (
            sa.select(states.c.status, sa.func.count().label("devices"))
            .join(devices, devices.c.id == states.c.device_id)
            .where(
                states.c.tenant_id == tenant_id,
                states.c.package_type == package_type,
                states.c.package_id.is_not(None),
            )
            .group_by(states.c.status)
        )
        if package_id is not None:
            query = query.where(states.c.package_id == package_id)
        if profile_id is not None:
            query = query.where(devices.c.device_profile_id == profile_id)
        if customer_id is not None:
            query = query.where(devices.c.customer_id == customer_id)
        return {row.status: int(row.devices) for row in await self._execute(query)}

    async def page_states(self, request: PageRequest, where: StateFilter) -> Page:
        """Devices with their update state (none yet: no row), newest change first."""
        conditions = state_conditions(where)
        joined = devices_with_states(where.package_type)
        base = sa.select(tables.devices.c.id).select_from(joined).where(*conditions)
        total = (
            await self._execute(sa.select(sa.func.count()).select_from(base.subquery()))
        ).scalar_one()
        listing = _listing(
            where,
            conditions,
            request.sort_property,
            request.sort_order_desc if request.sort_property else True,
        )
        rows = await self._execute(listing.limit(request.page_size).offset(request.offset))
        return Page(
            [dict(row._mapping) for row in rows], int(total), request.page_size, request.page
        )

    async def list_states(
        self, where: StateFilter, device_ids: Sequence[UUID] | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """The rows `page_states` gives, all of them (or `limit`), in the same order; with
        `device_ids`, of those devices only (IN lists of bounded size; the order then holds
        within each list only)."""
        conditions = state_conditions(where)
        if device_ids is None:
            query = _listing(where, conditions)
            rows = await self._execute(query if limit is None else query.limit(limit))
            return [dict(row._mapping) for row in rows]
        found: list[dict[str, Any]] = []
        for ids in chunked(sorted(device_ids)):
            query = _listing(where, [*conditions, tables.devices.c.id.in_(ids)])
            if limit is not None:
                query = query.limit(limit - len(found))
            found += [dict(row._mapping) for row in await self._execute(query)]
            if limit is not None and len(found) >= limit:
                break
        return found

    async def bucket_states(
        self, where: StateFilter, start_ts: int, end_ts: int, interval_ms: int
    ) -> BucketStates:
        return await ota_history.bucket_states(
            self._connection, where, start_ts, end_ts, interval_ms
        )

    async def update_times(self, where: StateFilter) -> list[tuple[int, int | None, int | None]]:
        return await ota_history.update_times(self._connection, where)


def _sort_keys() -> dict[str, sa.ColumnElement[Any]]:
    """The dashboard table's sortable columns, by their names in the API."""
    states, devices = tables.ota_states, tables.devices
    progress = sa.case(
        {status.value: percent for status, percent in PROGRESS.items()},
        value=states.c.status,
        else_=-1,
    )
    keys: dict[str, sa.ColumnElement[Any]] = {
        "deviceName": devices.c.name,
        "lastChange": sa.func.coalesce(states.c.status_ts, 0),
        "status": sa.func.coalesce(states.c.status, ""),
        "progress": progress,
        "retries": sa.func.coalesce(states.c.retries, 0),
    }
    assert set(keys) == set(DASHBOARD_SORTS)
    return keys


def _listing(
    where: StateFilter,
    conditions: list[sa.ColumnElement[bool]],
    sort: str | None = None,
    descending: bool = True,
) -> sa.Select[Any]:
    """Latest change first unless `sort` names a column; ties by name, then id, so pages never
    overlap."""
    states, devices = tables.ota_states, tables.devices
    key = _SORT_KEYS[sort or "lastChange"]
    return (
        sa.select(devices.c.id, devices.c.name, devices.c.device_profile_id, states)
        .select_from(devices_with_states(where.package_type))
        .where(*conditions)
        .order_by(key.desc() if descending else key.asc(), devices.c.name, devices.c.id)
    )


_SORT_KEYS = _sort_keys()
