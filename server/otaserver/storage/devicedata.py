"""Attributes and telemetry of devices: upserts and reads over SQLAlchemy Core."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.telemetry import Attribute, AttributeScope, TelemetryPoint
from . import tables
from .bulk import chunked, upsert


class DeviceDataRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def save_attributes(
        self, device_id: UUID, scope: AttributeScope, values: dict[str, Any], ts: int
    ) -> None:
        await self.save_attributes_of({device_id: values}, scope, ts)

    async def save_attributes_of(
        self, values: Mapping[UUID, Mapping[str, Any]], scope: AttributeScope, ts: int
    ) -> None:
        """Several devices' attributes of one scope, all at `ts`."""
        rows = [
            {
                "device_id": device_id,
                "scope": scope,
                "key": key,
                "value": value,
                "last_update_ts": ts,
            }
            for device_id, attributes in values.items()
            for key, value in attributes.items()
        ]
        await upsert(self._connection, tables.attributes, rows, ("device_id", "scope", "key"))

    async def delete_attributes(
        self, device_id: UUID, scope: AttributeScope, keys: Iterable[str]
    ) -> list[str]:
        """Deletes the keys that exist; returns those."""
        return (await self.delete_attributes_of([device_id], scope, keys)).get(device_id, [])

    async def delete_attributes_of(
        self, device_ids: Sequence[UUID], scope: AttributeScope, keys: Iterable[str]
    ) -> dict[UUID, list[str]]:
        """Deletes these keys of these devices; returns, per device, the keys that existed."""
        table, names = tables.attributes, list(keys)
        deleted: dict[UUID, list[str]] = {}
        for ids in chunked(device_ids):
            result = await self._connection.execute(
                sa.delete(table)
                .where(table.c.device_id.in_(ids), table.c.scope == scope, table.c.key.in_(names))
                .returning(table.c.device_id, table.c.key)
            )
            for row in result:
                deleted.setdefault(row.device_id, []).append(row.key)
        return {device_id: sorted(found) for device_id, found in deleted.items()}

    async def attributes(
        self, device_id: UUID, scope: AttributeScope, keys: Sequence[str] | None = None
    ) -> list[Attribute]:
        table = tables.attributes
        query = sa.select(table.c.key, table.c.value, table.c.last_update_ts).where(
            table.c.device_id == device_id, table.c.scope == scope
        )
        if keys is not None:
            query = query.where(table.c.key.in_(keys))
        rows = await self._connection.execute(query.order_by(table.c.key))
        return [Attribute(row.key, row.value, row.last_update_ts) for row in rows]

    async def save_telemetry(self, device_id: UUID, points: Sequence[TelemetryPoint]) -> None:
        await self.save_telemetry_of([(device_id, points)])

    async def save_telemetry_of(
        self, reports: Sequence[tuple[UUID, Sequence[TelemetryPoint]]]
    ) -> None:
        """Several devices' points; the last value of a key at one timestamp wins, as in
        ThingsBoard."""
        rows = [
            {"device_id": device_id, "key": p.key, "ts": p.ts, "value": p.value}
            for device_id, points in reports
            for p in points
        ]
        await upsert(self._connection, tables.telemetry, rows, ("device_id", "key", "ts"))

    async def telemetry(
        self,
        device_id: UUID,
        keys: Sequence[str],
        start_ts: int,
        end_ts: int,
        limit: int,
        descending: bool = True,
    ) -> dict[str, list[TelemetryPoint]]:
        table = tables.telemetry
        found: dict[str, list[TelemetryPoint]] = {}
        for key in keys:
            order = table.c.ts.desc() if descending else table.c.ts.asc()
            rows = await self._connection.execute(
                sa.select(table.c.ts, table.c.value)
                .where(
                    table.c.device_id == device_id,
                    table.c.key == key,
                    table.c.ts >= start_ts,
                    table.c.ts <= end_ts,
                )
                .order_by(order)
                .limit(limit)
            )
            points = [TelemetryPoint(key, row.ts, row.value) for row in rows]
            if points:
                found[key] = points
        return found

    async def latest_telemetry(
        self, device_id: UUID, keys: Sequence[str] | None = None
    ) -> dict[str, TelemetryPoint]:
        return (await self.latest_telemetry_of([device_id], keys)).get(device_id, {})

    async def latest_telemetry_of(
        self, device_ids: Sequence[UUID], keys: Sequence[str] | None = None
    ) -> dict[UUID, dict[str, TelemetryPoint]]:
        """The newest point of each key (of `keys`, or all) of each of these devices."""
        table = tables.telemetry
        found: dict[UUID, dict[str, TelemetryPoint]] = {}
        for ids in chunked(device_ids):
            newest = (
                sa.select(table.c.device_id, table.c.key, sa.func.max(table.c.ts).label("ts"))
                .where(table.c.device_id.in_(ids))
                .group_by(table.c.device_id, table.c.key)
            )
            if keys is not None:
                newest = newest.where(table.c.key.in_(keys))
            latest = newest.subquery()
            rows = await self._connection.execute(
                sa.select(table.c.device_id, table.c.key, table.c.ts, table.c.value).join(
                    latest,
                    sa.and_(
                        table.c.device_id == latest.c.device_id,
                        table.c.key == latest.c.key,
                        table.c.ts == latest.c.ts,
                    ),
                )
            )
            for row in rows:
                found.setdefault(row.device_id, {})[row.key] = TelemetryPoint(
                    row.key, row.ts, row.value
                )
        return found

    async def telemetry_keys(self, device_id: UUID) -> list[str]:
        table = tables.telemetry
        rows = await self._connection.execute(
            sa.select(table.c.key)
            .where(table.c.device_id == device_id)
            .distinct()
            .order_by(table.c.key)
        )
        return [row.key for row in rows]

    async def attribute_keys(self, device_id: UUID, scopes: Sequence[AttributeScope]) -> list[str]:
        table = tables.attributes
        rows = await self._connection.execute(
            sa.select(table.c.key)
            .where(table.c.device_id == device_id, table.c.scope.in_(list(scopes)))
            .distinct()
            .order_by(table.c.key)
        )
        return [row.key for row in rows]
