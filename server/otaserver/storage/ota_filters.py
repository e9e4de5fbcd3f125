"""Which devices a dashboard query covers: a StateFilter as SQL conditions."""

from __future__ import annotations

import sqlalchemy as sa

from ..domain.enums import OtaPackageType
from ..services.ports import StateFilter
from . import tables


def devices_with_states(package_type: OtaPackageType) -> sa.FromClause:
    """Every device, with its update state of the type where it has one."""
    states, devices = tables.ota_states, tables.devices
    on = sa.and_(states.c.device_id == devices.c.id, states.c.package_type == package_type)
    return devices.outerjoin(states, on)


def state_conditions(where: StateFilter) -> list[sa.ColumnElement[bool]]:
    """The conditions of a StateFilter over `devices_with_states`."""
    states, devices = tables.ota_states, tables.devices
    conditions: list[sa.ColumnElement[bool]] = [devices.c.tenant_id == where.tenant_id]
    if where.package_id is not None:
        conditions.append(states.c.package_id == where.package_id)
    if where.profile_id is not None:
        conditions.append(devices.c.device_profile_id == where.profile_id)
    if where.customer_id is not None:
        conditions.append(devices.c.customer_id == where.customer_id)
    if where.statuses is not None:
        conditions.append(states.c.status.in_(list(where.statuses)))
    if where.changed_before is not None:
        conditions.append(states.c.package_id.is_not(None))
        conditions.append(states.c.status_ts < where.changed_before)
    if where.text_search:
        # autoescape: a '%' or '_' searched for is that character, as in the other lists.
        search = where.text_search.lower()
        conditions.append(sa.func.lower(devices.c.name).contains(search, autoescape=True))
    return conditions
