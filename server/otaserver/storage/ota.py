"""The update queue and each device's update status, over SQLAlchemy Core."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.enums import OtaPackageType
from ..domain.model import Page, PageRequest
from ..domain.orchestration import QueueState
from ..services.ports import QueueEntry, UpdateState
from . import tables

PACE_ROW = 1


class OtaRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def _execute(self, statement: sa.Executable) -> sa.CursorResult[Any]:
        return await self._connection.execute(statement)

    # ---- the queue ---------------------------------------------------------------------------

    async def enqueue(self, entry: QueueEntry) -> None:
        await self._execute(
            sa.insert(tables.ota_queue).values(
                id=entry.id,
                tenant_id=entry.tenant_id,
                device_id=entry.device_id,
                package_id=entry.package_id,
                package_type=entry.package_type,
                assigned_ts=entry.assigned_ts,
                created_time=entry.created_time,
                state=QueueState.PENDING,
                processed_ts=None,
            )
        )

    async def lock_pace(self) -> None:
        """Serialises the queue workers of every process on the one database."""
        pace = tables.ota_pace
        if self._connection.dialect.name == "postgresql":
            await self._execute(sa.select(pace.c.id).where(pace.c.id == PACE_ROW).with_for_update())
        else:
            # SQLite locks the whole database for the first write of a transaction.
            await self._execute(sa.update(pace).where(pace.c.id == PACE_ROW).values(id=PACE_ROW))

    async def notified_since(self, since_ts: int) -> list[int]:
        queue = tables.ota_queue
        rows = await self._execute(
            sa.select(queue.c.processed_ts).where(
                queue.c.state == QueueState.DONE, queue.c.processed_ts > since_ts
            )
        )
        return [row.processed_ts for row in rows]

    async def next_pending(self) -> QueueEntry | None:
        queue = tables.ota_queue
        row = (
            await self._execute(
                sa.select(queue)
                .where(queue.c.state == QueueState.PENDING)
                .order_by(queue.c.created_time, queue.c.id)
                .limit(1)
            )
        ).first()
        if row is None:
            return None
        values = row._mapping
        return QueueEntry(
            id=values["id"],
            tenant_id=values["tenant_id"],
            device_id=values["device_id"],
            package_id=values["package_id"],
            package_type=values["package_type"],
            assigned_ts=values["assigned_ts"],
            created_time=values["created_time"],
        )

    async def finish(self, entry_id: UUID, state: QueueState, processed_ts: int) -> None:
        queue = tables.ota_queue
        await self._execute(
            sa.update(queue)
            .where(queue.c.id == entry_id)
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
        states = tables.ota_states
        row = (
            await self._execute(
                sa.select(states).where(
                    states.c.device_id == device_id, states.c.package_type == package_type
                )
            )
        ).first()
        return None if row is None else UpdateState(**row._mapping)

    async def save_state(self, state: UpdateState) -> None:
        states = tables.ota_states
        key = (states.c.device_id == state.device_id, states.c.package_type == state.package_type)
        values = {c.name: getattr(state, c.name) for c in states.c}
        updated = await self._execute(sa.update(states).where(*key).values(values))
        if not updated.rowcount:
            await self._execute(sa.insert(states).values(values))

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

    async def page_states(
        self,
        request: PageRequest,
        tenant_id: UUID,
        package_type: OtaPackageType,
        package_id: UUID | None,
        profile_id: UUID | None,
        customer_id: UUID | None,
        statuses: list[str] | None,
    ) -> Page:
        """Devices with their update state (none yet: no row), newest change first."""
        states, devices = tables.ota_states, tables.devices
        on = sa.and_(states.c.device_id == devices.c.id, states.c.package_type == package_type)
        conditions: list[sa.ColumnElement[bool]] = [devices.c.tenant_id == tenant_id]
        if package_id is not None:
            conditions.append(states.c.package_id == package_id)
        if profile_id is not None:
            conditions.append(devices.c.device_profile_id == profile_id)
        if customer_id is not None:
            conditions.append(devices.c.customer_id == customer_id)
        if statuses is not None:
            conditions.append(states.c.status.in_(statuses))
        if request.text_search:
            # autoescape: a '%' or '_' searched for is that character, as in the other lists.
            search = request.text_search.lower()
            conditions.append(sa.func.lower(devices.c.name).contains(search, autoescape=True))
        base = sa.select(devices.c.id).select_from(devices.outerjoin(states, on)).where(*conditions)
        total = (
            await self._execute(sa.select(sa.func.count()).select_from(base.subquery()))
        ).scalar_one()
        rows = await self._execute(
            sa.select(devices.c.id, devices.c.name, devices.c.device_profile_id, states)
            .select_from(devices.outerjoin(states, on))
            .where(*conditions)
            .order_by(sa.func.coalesce(states.c.status_ts, 0).desc(), devices.c.name)
            .limit(request.page_size)
            .offset(request.offset)
        )
        return Page(
            [dict(row._mapping) for row in rows], int(total), request.page_size, request.page
        )
