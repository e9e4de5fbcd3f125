"""Devices with their customer's and profile's names and their activity (ThingsBoard's
DeviceInfo), listed with ThingsBoard's filters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.errors import BadRequest
from ..domain.model import Device, DeviceInfo, Page, PageRequest
from ..domain.telemetry import AttributeScope
from ..services.ports import DeviceInfoFilter
from . import tables

_DEVICES, _CUSTOMERS, _PROFILES = tables.devices, tables.customers, tables.device_profiles


@dataclass(frozen=True)
class _Columns:
    active: sa.ColumnElement[bool]
    sortable: dict[str, sa.ColumnElement[Any]]


def _columns(active_since: int) -> _Columns:
    telemetry, attributes = tables.telemetry, tables.attributes
    # Active: the device sent telemetry or client attributes since `active_since`.
    active = sa.or_(
        sa.exists().where(telemetry.c.device_id == _DEVICES.c.id, telemetry.c.ts >= active_since),
        sa.exists().where(
            attributes.c.device_id == _DEVICES.c.id,
            attributes.c.scope == AttributeScope.CLIENT_SCOPE,
            attributes.c.last_update_ts >= active_since,
        ),
    )
    return _Columns(
        active=active,
        # ThingsBoard's sortable properties of device infos; no customer sorts as "" on both
        # databases (SQLite and PostgreSQL put NULL at opposite ends).
        sortable={
            "createdTime": _DEVICES.c.created_time,
            "name": _DEVICES.c.name,
            "label": sa.func.coalesce(_DEVICES.c.label, ""),
            "deviceProfileName": _PROFILES.c.name,
            "customerTitle": sa.func.coalesce(_CUSTOMERS.c.title, ""),
        },
    )


def _select(*what: Any) -> sa.Select[Any]:
    return sa.select(*what).select_from(
        _DEVICES.join(_PROFILES, _PROFILES.c.id == _DEVICES.c.device_profile_id).outerjoin(
            _CUSTOMERS, _CUSTOMERS.c.id == _DEVICES.c.customer_id
        )
    )


def _info_columns(columns: _Columns) -> list[Any]:
    return [
        *_DEVICES.c,
        _CUSTOMERS.c.title.label("info_customer_title"),
        _CUSTOMERS.c.additional_info.label("info_customer_additional_info"),
        _PROFILES.c.name.label("info_profile_name"),
        columns.active.label("info_active"),
    ]


def _info_of(row: sa.Row[Any]) -> DeviceInfo:
    values = row._mapping
    customer_info = values["info_customer_additional_info"]
    return DeviceInfo(
        device=Device(**{column.name: values[column.name] for column in _DEVICES.c}),
        customer_title=values["info_customer_title"],
        customer_is_public=isinstance(customer_info, dict)
        and customer_info.get("isPublic") is True,
        device_profile_name=values["info_profile_name"],
        active=bool(values["info_active"]),
    )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def device_info(
    connection: AsyncConnection, device_id: UUID, active_since: int
) -> DeviceInfo | None:
    columns = _columns(active_since)
    query = _select(*_info_columns(columns)).where(_DEVICES.c.id == device_id)
    row = (await connection.execute(query)).first()
    return None if row is None else _info_of(row)


async def device_info_page(
    connection: AsyncConnection,
    request: PageRequest,
    where: DeviceInfoFilter,
    active_since: int,
) -> Page:
    columns = _columns(active_since)
    conditions: list[sa.ColumnElement[bool]] = [_DEVICES.c.tenant_id == where.tenant_id]
    if where.customer_id is not None:
        conditions.append(_DEVICES.c.customer_id == where.customer_id)
    if where.tenant_owned_only:
        conditions.append(_DEVICES.c.customer_id.is_(None))
    if where.device_type:
        conditions.append(_DEVICES.c.type == where.device_type)
    elif where.device_profile_id is not None:
        conditions.append(_DEVICES.c.device_profile_id == where.device_profile_id)
    if where.active is not None:
        conditions.append(columns.active if where.active else sa.not_(columns.active))
    if request.text_search:
        pattern = "%" + _escape_like(request.text_search.lower()) + "%"
        conditions.append(sa.func.lower(_DEVICES.c.name).like(pattern, escape="\\"))
    sort_property = request.sort_property or "createdTime"
    if sort_property not in columns.sortable:
        allowed = ", ".join(sorted(columns.sortable))
        raise BadRequest(f"Unsupported sortProperty '{sort_property}'; use one of {allowed}")
    column = columns.sortable[sort_property]
    total = await connection.execute(_select(sa.func.count()).where(*conditions))
    rows = await connection.execute(
        _select(*_info_columns(columns))
        .where(*conditions)
        # The id breaks ties, so that pages never repeat or skip a row.
        .order_by(column.desc() if request.sort_order_desc else column.asc(), _DEVICES.c.id)
        .limit(request.page_size)
        .offset(request.offset)
    )
    return Page(
        data=[_info_of(row) for row in rows],
        total_elements=int(total.scalar_one()),
        page_size=request.page_size,
        page=request.page,
    )
