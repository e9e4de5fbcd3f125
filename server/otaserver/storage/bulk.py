"""Statements over many rows at once, kept under the databases' limits on bound parameters."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

T = TypeVar("T")
# SQLite allows 32 766 bound parameters per statement and asyncpg 32 767: stay well below.
MAX_PARAMETERS = 30_000
# Rows per IN list: a statement's size should not grow with a fleet.
IN_LIST = 1_000


def chunked(items: Sequence[T], size: int = IN_LIST) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def upsert(
    connection: AsyncConnection,
    table: sa.Table,
    rows: Sequence[dict[str, Any]],
    keys: Sequence[str],
    updated: Sequence[str] | None = None,
) -> None:
    """Inserts the rows, replacing the `updated` columns (default: all but keys) on a conflict."""
    if not rows:
        return
    # One statement may not touch a row twice (PostgreSQL refuses): the last row of a key wins.
    rows = list({tuple(row[key] for key in keys): row for row in rows}.values())
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    columns = updated if updated is not None else [n for n in rows[0] if n not in keys]
    for part in chunked(rows, max(1, MAX_PARAMETERS // len(rows[0]))):
        statement = dialect.insert(table).values(list(part))
        statement = statement.on_conflict_do_update(
            index_elements=list(keys),
            set_={name: statement.excluded[name] for name in columns},
        )
        await connection.execute(statement)
