"""The dashboard's views of the state history (the `fw_state`/`sw_state` telemetry), aggregated
in SQL so that a fleet's history does not cross the wire point by point."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.enums import UpdateStatus
from ..domain.orchestration import state_key
from ..services.ports import BucketStates, StateFilter
from . import tables
from .ota_filters import devices_with_states, state_conditions


def _device_ids(where: StateFilter) -> sa.Select[tuple[object]]:
    devices = tables.devices
    return (
        sa.select(devices.c.id)
        .select_from(devices_with_states(where.package_type))
        .where(*state_conditions(where))
    )


def _int(value: int) -> sa.ColumnElement[int]:
    # Inlined: PostgreSQL matches a GROUP BY expression to the SELECT's only when they are
    # the same text, which two bound parameters are not.
    return sa.literal_column(f"({int(value)})", sa.BigInteger)


async def bucket_states(
    connection: AsyncConnection, where: StateFilter, start_ts: int, end_ts: int, interval_ms: int
) -> BucketStates:
    """Bucket i covers (start + i * interval, start + (i + 1) * interval]."""
    points, key = tables.telemetry, state_key(where.package_type)
    ids = _device_ids(where)
    last = (
        sa.select(points.c.device_id, sa.func.max(points.c.ts).label("ts"))
        .where(points.c.key == key, points.c.ts <= start_ts, points.c.device_id.in_(ids))
        .group_by(points.c.device_id)
        .subquery()
    )
    before = {
        row.device_id: row.value
        for row in await connection.execute(
            sa.select(points.c.device_id, points.c.value).join(
                last,
                sa.and_(
                    points.c.device_id == last.c.device_id,
                    points.c.key == key,
                    points.c.ts == last.c.ts,
                ),
            )
        )
    }
    bucket = ((points.c.ts - _int(start_ts + 1)) // _int(interval_ms)).label("bucket")
    newest = (
        sa.select(points.c.device_id, bucket, sa.func.max(points.c.ts).label("ts"))
        .where(
            points.c.key == key,
            points.c.ts > start_ts,
            points.c.ts <= end_ts,
            points.c.device_id.in_(ids),
        )
        .group_by(points.c.device_id, bucket)
        .subquery()
    )
    rows = await connection.execute(
        sa.select(newest.c.bucket, newest.c.device_id, points.c.value)
        .join(
            newest,
            sa.and_(
                points.c.device_id == newest.c.device_id,
                points.c.key == key,
                points.c.ts == newest.c.ts,
            ),
        )
        .order_by(newest.c.bucket)
    )
    return BucketStates(before, [(int(r.bucket), r.device_id, r.value) for r in rows])


def _is(status: UpdateStatus) -> sa.ColumnElement[bool]:
    # The value column is JSON: a reported string is stored as its JSON text.
    return sa.cast(tables.telemetry.c.value, sa.Text) == f'"{status.value}"'


async def update_times(
    connection: AsyncConnection, where: StateFilter
) -> list[tuple[int, int | None, int | None]]:
    """For each device whose current target is UPDATED: (its UPDATED time, its last QUEUED
    and its last INITIATED at or before then; None where it has none)."""
    states, points = tables.ota_states, tables.telemetry
    updated = sa.and_(
        *state_conditions(where),
        states.c.status == UpdateStatus.UPDATED.value,
        states.c.package_id.is_not(None),
    )
    queued = sa.func.max(sa.case((_is(UpdateStatus.QUEUED), points.c.ts)))
    initiated = sa.func.max(sa.case((_is(UpdateStatus.INITIATED), points.c.ts)))
    query = (
        sa.select(states.c.status_ts, queued.label("queued"), initiated.label("initiated"))
        .select_from(devices_with_states(where.package_type))
        .outerjoin(
            points,
            sa.and_(
                points.c.device_id == states.c.device_id,
                points.c.key == state_key(where.package_type),
                points.c.ts <= states.c.status_ts,
                sa.or_(_is(UpdateStatus.QUEUED), _is(UpdateStatus.INITIATED)),
            ),
        )
        .where(updated)
        .group_by(states.c.device_id, states.c.status_ts)
    )
    return [(r.status_ts, r.queued, r.initiated) for r in await connection.execute(query)]
