"""The engine: SQLite in WAL mode or PostgreSQL, with Alembic migrations applied at start.

SQLite transactions begin explicitly. Python's sqlite3 module otherwise starts a transaction
only at its first write, so everything read before that write ran outside it and could change
under it (SQLAlchemy documents this and the remedy used here). Writing transactions begin
IMMEDIATE: they take SQLite's one write lock at once, so two never read the same state and then
fail to write it (a deferred reader that later writes gets SQLITE_BUSY_SNAPSHOT at once, which
the busy timeout cannot wait out). Reading transactions begin DEFERRED: a snapshot that never
blocks and is never blocked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant: several server processes starting on one PostgreSQL migrate one at a time.
_MIGRATION_LOCK = 0x07A1C17
# The execution option that names how a SQLite transaction begins: IMMEDIATE or DEFERRED.
BEGIN_MODE = "otakit_sqlite_begin"


def create_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})
        sa.event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        sa.event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def _sqlite_begin(connection: sa.Connection) -> None:
    mode = connection.get_execution_options().get(BEGIN_MODE, "IMMEDIATE")
    connection.exec_driver_sql(f"BEGIN {mode}")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The driver must not begin transactions of its own: _sqlite_begin does.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _upgrade(connection: sa.Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def migrate(engine: AsyncEngine) -> None:
    """Brings the schema to the newest revision."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)
