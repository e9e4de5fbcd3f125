"""Transactions are transactions on SQLite too, and the database keeps one default profile."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from otaserver.domain.model import Tenant
from otaserver.settings import load_settings
from otaserver.storage.database import create_engine, migrate
from otaserver.storage.repositories import SqlStorage
from tests.conftest import TenantContext
from tests.support.process import ServerProcess


async def sqlite_storage(tmp_path: Path) -> tuple[SqlStorage, AsyncEngine]:
    url = load_settings({"data_dir": str(tmp_path)}, {}).effective_database_url
    engine = create_engine(url)
    await migrate(engine)
    return SqlStorage(engine), engine


def tenant_row() -> Tenant:
    return Tenant(id=uuid.uuid4(), created_time=0, title="t")


def test_a_writing_transaction_sees_no_other_commit_until_it_ends(tmp_path: Path) -> None:
    """pysqlite on its own begins a transaction only at the first write: two reads before it
    would see another connection's commit in between."""

    async def run() -> tuple[list[int], int]:
        storage, engine = await sqlite_storage(tmp_path)
        seen: list[int] = []
        first_read = asyncio.Event()

        async def first() -> None:
            async with storage.transaction() as repos:
                seen.append(await repos.tenants.count())
                first_read.set()
                await asyncio.sleep(0.5)  # the other writer tries meanwhile
                seen.append(await repos.tenants.count())
                await repos.tenants.add(tenant_row())

        async def second() -> None:
            await first_read.wait()
            async with storage.transaction() as repos:
                await repos.tenants.add(tenant_row())

        await asyncio.gather(first(), second())
        async with storage.reading() as repos:
            total = await repos.tenants.count()
        await engine.dispose()
        return seen, total

    seen, total = asyncio.run(run())
    assert seen == [0, 0]  # the other commit waited for this transaction
    assert total == 2


def test_a_reading_transaction_is_one_snapshot(tmp_path: Path) -> None:
    async def run() -> list[int]:
        storage, engine = await sqlite_storage(tmp_path)
        async with storage.reading() as reader:
            seen = [await reader.tenants.count()]
            async with storage.transaction() as writer:  # not blocked by the reader
                await writer.tenants.add(tenant_row())
            seen.append(await reader.tenants.count())
        async with storage.reading() as reader:
            seen.append(await reader.tenants.count())
        await engine.dispose()
        return seen

    assert asyncio.run(run()) == [0, 0, 1]


def second_default(server: ServerProcess, tenant_id: str, profile_id: str) -> None:
    """Marks a second profile default behind the API's back; the database must refuse."""
    if server.database_url:

        async def update() -> None:
            connection = await asyncpg.connect(server.database_url)
            try:
                await connection.execute(
                    "UPDATE device_profiles SET is_default = true WHERE id = $1",
                    uuid.UUID(profile_id),
                )
            finally:
                await connection.close()

        with pytest.raises(asyncpg.UniqueViolationError):
            asyncio.run(update())
        return
    with sqlite3.connect(server.data_dir / "otakit.db") as database:
        with pytest.raises(sqlite3.IntegrityError):
            database.execute(
                "UPDATE device_profiles SET is_default = 1 WHERE id = ?",
                (uuid.UUID(profile_id).hex,),
            )
        assert database.execute(
            "SELECT count(*) FROM device_profiles WHERE tenant_id = ? AND is_default",
            (uuid.UUID(tenant_id).hex,),
        ).fetchone() == (1,)


def test_the_database_keeps_one_default_profile_per_tenant(
    server: ServerProcess, tenant: TenantContext
) -> None:
    other = tenant.api.create_profile(f"p-{uuid.uuid4().hex[:6]}")
    second_default(server, tenant.tenant_id, other["id"]["id"])


def test_racing_default_changes_leave_one_default_and_no_error(tenant: TenantContext) -> None:
    profiles = [tenant.api.create_profile(f"p-{n}-{uuid.uuid4().hex[:4]}") for n in range(8)]

    def make_default(profile_id: str) -> int:
        return tenant.api.http.post(f"/api/deviceProfile/{profile_id}/default").status_code

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(make_default, [p["id"]["id"] for p in profiles]))
    assert set(answers) <= {200, 409}, answers
    listed = tenant.api.get("/api/deviceProfiles", params={"pageSize": 100, "page": 0})
    assert sum(1 for profile in listed["data"] if profile["default"]) == 1
