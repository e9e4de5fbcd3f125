"""Attributes and telemetry of devices: upserts and reads over SQLAlchemy Core."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.telemetry import Attribute, AttributeScope, TelemetryPoint
from . import tables


class DeviceDataRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def _upsert(
        self,
        table: sa.Table,
        rows: list[dict[str, Any]],
        keys: Sequence[str],
        updated: Sequence[str],
    ) -> None:
        if not rows:
            return
        dialect = postgresql if self._connection.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(table).values(rows)
        statement = statement.on_conflict_do_update(
            index_elements=list(keys),
            set_={name: statement.excluded[name] for name in updated},
        )
        await self._connection.execute(statement)

    async def save_attributes(
        self, device_id: UUID, scope: AttributeScope, values: dict[str, Any], ts: int
    ) -> None:
        rows = [
            {
                "device_id": device_id,
                "scope": scope,
                "key": key,
                "value": value,
                "last_update_ts": ts,
            }
            for key, value in values.items()
        ]
        await self._upsert(
            tables.attributes, rows, ("device_id", "scope", "key"), ("value", "last_update_ts")
        )

    async def delete_attributes(
        self, device_id: UUID, scope: AttributeScope, keys: Iterable[str]
    ) -> list[str]:
        """Deletes the keys that exist; returns those."""
        table = tables.attributes
        result = await self._connection.execute(
            sa.delete(table)
            .where(
                table.c.device_id == device_id, table.c.scope == scope, table.c.key.in_(list(keys))
            )
            .returning(table.c.key)
        )
        return sorted(row.key for row in result)

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
        # The last value of a key at one timestamp wins, as in ThingsBoard.
        latest = {(p.key, p.ts): p.value for p in points}
        rows = [
            {"device_id": device_id, "key": key, "ts": ts, "value": value}
            for (key, ts), value in latest.items()
        ]
        await self._upsert(tables.telemetry, rows, ("device_id", "key", "ts"), ("value",))

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
        table = tables.telemetry
        newest = (
            sa.select(table.c.key, sa.func.max(table.c.ts).label("ts"))
            .where(table.c.device_id == device_id)
            .group_by(table.c.key)
        )
        if keys is not None:
            newest = newest.where(table.c.key.in_(keys))
        latest = newest.subquery()
        rows = await self._connection.execute(
            sa.select(table.c.key, table.c.ts, table.c.value)
            .join(
                latest,
                sa.and_(table.c.key == latest.c.key, table.c.ts == latest.c.ts),
            )
            .where(table.c.device_id == device_id)
        )
        return {row.key: TelemetryPoint(row.key, row.ts, row.value) for row in rows}

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
