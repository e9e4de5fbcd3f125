"""Repositories over SQLAlchemy Core: one generic class maps a dataclass to its table."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Generic, TypeVar
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..domain.enums import OtaPackageType
from ..domain.errors import BadRequest
from ..domain.model import (
    AuditEntry,
    Customer,
    Device,
    DeviceCredentials,
    DeviceInfo,
    DeviceProfile,
    OtaPackage,
    Page,
    PageRequest,
    Tenant,
    User,
)
from ..services.ports import DeviceInfoFilter, DuplicateKey
from . import device_infos, tables
from .bulk import chunked
from .database import BEGIN_MODE
from .devicedata import DeviceDataRepository
from .errors import storage_errors
from .logins import LoginRepository, SessionRepository
from .ota import OtaRepository, Touched

T = TypeVar("T")


class TableRepository(Generic[T]):
    """Storage of the dataclass `entity` in `table`, whose columns carry the field names.

    `searchable` is the column `textSearch` matches (case-insensitive, anywhere in the text);
    `sortable` maps the wire names of `sortProperty` to columns.
    """

    def __init__(
        self,
        connection: AsyncConnection,
        table: sa.Table,
        entity: type[T],
        searchable: str,
        sortable: dict[str, str],
    ) -> None:
        self._connection = connection
        self._table = table
        self._entity = entity
        self._searchable = table.c[searchable]
        self._sortable = sortable
        self._widths = {
            column.name: column.type.length
            for column in table.c
            if isinstance(column.type, sa.String) and column.type.length
        }

    def _row(self, entity: T) -> dict[str, Any]:
        row: dict[str, Any] = dataclasses.asdict(entity)  # type: ignore[call-overload]
        for name, width in self._widths.items():
            value = row.get(name)
            if isinstance(value, str) and len(value) > width:
                # SQLite would store it and PostgreSQL refuse it: both refuse it here.
                raise BadRequest(f"'{_camel(name)}' must be at most {width} characters long")
        return row

    def _entity_of(self, row: sa.Row[Any]) -> T:
        return self._entity(**row._mapping)

    def _conditions(self, where: dict[str, Any]) -> list[sa.ColumnElement[bool]]:
        conditions: list[sa.ColumnElement[bool]] = []
        for name, value in where.items():
            column = self._table.c[name]
            if value is None:
                conditions.append(column.is_(None))
            elif isinstance(value, list | tuple | set | frozenset):
                conditions.append(column.in_(value))
            else:
                conditions.append(column == value)
        return conditions

    async def _execute(self, statement: sa.Executable) -> sa.CursorResult[Any]:
        try:
            return await self._connection.execute(statement)
        except sa.exc.IntegrityError as exc:
            raise DuplicateKey(str(exc.orig)) from exc

    async def get(self, entity_id: UUID, lock: bool = False) -> T | None:
        query = sa.select(self._table).where(self._table.c.id == entity_id)
        # FOR NO KEY UPDATE on PostgreSQL: it does not block the KEY SHARE lock that an insert
        # referencing the row takes, so it cannot deadlock with one. SQLite has no row locks (its
        # writers take turns anyway).
        locked = query.with_for_update(key_share=True) if lock else query
        result = await self._connection.execute(locked)
        row = result.first()
        return None if row is None else self._entity_of(row)

    async def get_many(self, entity_ids: Sequence[UUID], lock: bool = False) -> dict[UUID, T]:
        """The entities of these ids that exist; locked as `get` locks, in id order, so that
        two transactions locking overlapping sets cannot deadlock."""
        found: dict[UUID, T] = {}
        for ids in chunked(sorted(set(entity_ids))):
            query = (
                sa.select(self._table).where(self._table.c.id.in_(ids)).order_by(self._table.c.id)
            )
            locked = query.with_for_update(key_share=True) if lock else query
            for row in await self._connection.execute(locked):
                entity = self._entity_of(row)
                found[row.id] = entity
        return found

    async def add(self, entity: T) -> None:
        await self._execute(sa.insert(self._table).values(self._row(entity)))

    async def update(self, entity: T) -> None:
        values = self._row(entity)
        await self._execute(
            sa.update(self._table).where(self._table.c.id == values.pop("id")).values(values)
        )

    async def delete(self, entity_id: UUID) -> None:
        await self._execute(sa.delete(self._table).where(self._table.c.id == entity_id))

    async def find(self, **where: Any) -> list[T]:
        query = sa.select(self._table).where(*self._conditions(where))
        result = await self._connection.execute(query.order_by(self._table.c.created_time))
        return [self._entity_of(row) for row in result]

    async def count(self, **where: Any) -> int:
        query = sa.select(sa.func.count()).select_from(self._table)
        return int(
            (await self._connection.execute(query.where(*self._conditions(where)))).scalar_one()
        )

    async def page(self, request: PageRequest, **where: Any) -> Page:
        return await self._page(request, self._conditions(where))

    async def _page(self, request: PageRequest, conditions: list[sa.ColumnElement[bool]]) -> Page:
        created = self._table.c.created_time
        if request.start_time is not None:
            conditions = [*conditions, created >= request.start_time]
        if request.end_time is not None:
            conditions = [*conditions, created <= request.end_time]
        if request.text_search:
            pattern = "%" + _escape_like(request.text_search.lower()) + "%"
            conditions = [*conditions, sa.func.lower(self._searchable).like(pattern, escape="\\")]
        total = await self._connection.execute(
            sa.select(sa.func.count()).select_from(self._table).where(*conditions)
        )
        sort_property = request.sort_property or "createdTime"
        if sort_property not in self._sortable:
            allowed = ", ".join(sorted(self._sortable))
            raise BadRequest(f"Unsupported sortProperty '{sort_property}'; use one of {allowed}")
        column = self._table.c[self._sortable[sort_property]]
        order = column.desc() if request.sort_order_desc else column.asc()
        # The id breaks ties, so that pages never repeat or skip a row.
        query = (
            sa.select(self._table)
            .where(*conditions)
            .order_by(order, self._table.c.id)
            .limit(request.page_size)
            .offset(request.offset)
        )
        rows = await self._connection.execute(query)
        return Page(
            data=[self._entity_of(row) for row in rows],
            total_elements=int(total.scalar_one()),
            page_size=request.page_size,
            page=request.page,
        )


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class _UsesPackages(TableRepository[T]):
    async def count_using_package(self, package_id: UUID) -> int:
        table = self._table
        query = (
            sa.select(sa.func.count())
            .select_from(table)
            .where(sa.or_(table.c.firmware_id == package_id, table.c.software_id == package_id))
        )
        return int((await self._connection.execute(query)).scalar_one())


class DeviceRepository(_UsesPackages[Device]):
    async def by_token(self, token: str) -> tuple[Device, DeviceProfile] | None:
        """The device of an access token and its profile, in one query (the devices' hot path)."""
        devices, profiles, credentials = tables.devices, tables.device_profiles, tables.credentials
        query = (
            sa.select(devices, *[c.label("profile__" + c.name) for c in profiles.c])
            .join(credentials, credentials.c.device_id == devices.c.id)
            .join(profiles, profiles.c.id == devices.c.device_profile_id)
            .where(credentials.c.credentials_id == token)
        )
        row = (await self._connection.execute(query)).first()
        if row is None:
            return None
        values = row._mapping
        device = Device(**{c.name: values[c.name] for c in devices.c})
        profile = DeviceProfile(**{c.name: values["profile__" + c.name] for c in profiles.c})
        return device, profile

    async def by_tokens(self, tokens: Sequence[str]) -> dict[str, tuple[Device, DeviceProfile]]:
        """The devices of several access tokens and their profiles, in one query; a token
        of no device is left out."""
        devices, profiles, credentials = tables.devices, tables.device_profiles, tables.credentials
        query = (
            sa.select(
                credentials.c.credentials_id.label("token__"),
                devices,
                *[c.label("profile__" + c.name) for c in profiles.c],
            )
            .join(credentials, credentials.c.device_id == devices.c.id)
            .join(profiles, profiles.c.id == devices.c.device_profile_id)
            .where(credentials.c.credentials_id.in_(list(tokens)))
        )
        found = {}
        for row in await self._connection.execute(query):
            values = row._mapping
            device = Device(**{c.name: values[c.name] for c in devices.c})
            profile = DeviceProfile(**{c.name: values["profile__" + c.name] for c in profiles.c})
            found[values["token__"]] = (device, profile)
        return found

    async def count_without_package(
        self, tenant_id: UUID, profile_id: UUID, package_type: OtaPackageType
    ) -> int:
        """Devices of the profile without a package of their own of that type."""
        column = "firmware_id" if package_type is OtaPackageType.FIRMWARE else "software_id"
        return await self.count(tenant_id=tenant_id, device_profile_id=profile_id, **{column: None})

    async def info(self, device_id: UUID, active_since: int) -> DeviceInfo | None:
        return await device_infos.device_info(self._connection, device_id, active_since)

    async def info_page(
        self, request: PageRequest, where: DeviceInfoFilter, active_since: int
    ) -> Page:
        return await device_infos.device_info_page(self._connection, request, where, active_since)


class ProfileRepository(_UsesPackages[DeviceProfile]):
    pass


class PackageRepository(TableRepository[OtaPackage]):
    async def page_assignable(
        self, request: PageRequest, tenant_id: UUID, profile_id: UUID, package_type: OtaPackageType
    ) -> Page:
        table = self._table
        return await self._page(
            request,
            [
                table.c.tenant_id == tenant_id,
                table.c.device_profile_id == profile_id,
                table.c.type == package_type,
                sa.or_(table.c.data_sha256.is_not(None), table.c.url.is_not(None)),
            ],
        )

    async def count_blob_users(self, data_sha256: str) -> int:
        return await self.count(data_sha256=data_sha256)


_COMMON_SORT = {"createdTime": "created_time"}
_PACKAGE_SORT = {
    **_COMMON_SORT,
    **{name: name for name in ("type", "title", "version", "tag", "url", "checksum")},
    "fileName": "file_name",
    "dataSize": "data_size",
    "contentType": "content_type",
    "checksumAlgorithm": "checksum_algorithm",
}


class SqlRepositories:
    """All repositories on one connection, inside one transaction."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection
        self.tenants = TableRepository(
            connection, tables.tenants, Tenant, "title", {**_COMMON_SORT, "title": "title"}
        )
        self.users = TableRepository(
            connection,
            tables.users,
            User,
            "email",
            {**_COMMON_SORT, "email": "email", "firstName": "first_name", "lastName": "last_name"},
        )
        self.customers = TableRepository(
            connection, tables.customers, Customer, "title", {**_COMMON_SORT, "title": "title"}
        )
        self.profiles = ProfileRepository(
            connection,
            tables.device_profiles,
            DeviceProfile,
            "name",
            {
                **_COMMON_SORT,
                "name": "name",
                "isDefault": "is_default",
                "description": "description",
            },
        )
        self.devices = DeviceRepository(
            connection,
            tables.devices,
            Device,
            "name",
            {**_COMMON_SORT, "name": "name", "type": "type", "label": "label"},
        )
        self.credentials = TableRepository(
            connection, tables.credentials, DeviceCredentials, "credentials_id", _COMMON_SORT
        )
        self.packages = PackageRepository(
            connection, tables.ota_packages, OtaPackage, "title", _PACKAGE_SORT
        )
        self.device_data = DeviceDataRepository(connection)
        self.ota = OtaRepository(connection)
        self.sessions = SessionRepository(connection)
        self.logins = LoginRepository(connection)
        self.audit = TableRepository(
            connection,
            tables.audit_log,
            AuditEntry,
            "entity_name",
            {
                **_COMMON_SORT,
                "entityType": "entity_type",
                "entityName": "entity_name",
                "userName": "user_name",
                "type": "action_type",
                "status": "action_status",
            },
        )

    async def get_value(self, key: str) -> str | None:
        table = tables.server_values
        result = await self._connection.execute(sa.select(table.c.value).where(table.c.key == key))
        return result.scalar_one_or_none()

    async def set_value_if_absent(self, key: str, value: str) -> str:
        """Stores `value` unless another process stored one first; returns the stored one."""
        table = tables.server_values
        # The savepoint must see the failure to roll back to it, so the error is caught outside.
        with contextlib.suppress(sa.exc.IntegrityError):
            async with self._connection.begin_nested():
                await self._connection.execute(sa.insert(table).values(key=key, value=value))
        stored = await self.get_value(key)
        assert stored is not None
        return stored


class SqlStorage:
    """`on_commit` hears, after each transaction that saved update states commits, which
    devices' states it saved (a rolled back one tells nothing)."""

    def __init__(
        self, engine: AsyncEngine, on_commit: Callable[[Touched], None] | None = None
    ) -> None:
        self._engine = engine
        self._on_commit = on_commit

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqlRepositories]:
        with storage_errors():
            async with self._engine.begin() as connection:
                repos = SqlRepositories(connection)
                yield repos
        if repos.ota.touched and self._on_commit is not None:
            self._on_commit(repos.ota.touched)

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[SqlRepositories]:
        with storage_errors():
            async with self._engine.connect() as connection:
                await connection.execution_options(**{BEGIN_MODE: "DEFERRED"})
                async with connection.begin():
                    yield SqlRepositories(connection)
