"""The Alembic migrations build exactly the schema the code declares, on both databases."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from otaserver.settings import load_settings
from otaserver.storage.database import create_engine, migrate
from otaserver.storage.tables import metadata
from tests.conftest import database_for


@pytest.fixture
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    with ExitStack() as stack:
        url = database_for(backend, stack)
        yield load_settings(
            {"database_url": url, "data_dir": str(tmp_path)}, {}
        ).effective_database_url


def _differences(connection: sa.Connection) -> list[Any]:
    return compare_metadata(MigrationContext.configure(connection), metadata)  # type: ignore[no-any-return]


def test_migrated_schema_matches_the_tables(database_url: str) -> None:
    async def check() -> list[Any]:
        engine = create_engine(database_url)
        try:
            await migrate(engine)
            await migrate(engine)  # a second start finds nothing to do
            async with engine.connect() as connection:
                return await connection.run_sync(_differences)
        finally:
            await engine.dispose()

    assert asyncio.run(check()) == []
