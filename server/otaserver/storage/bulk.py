"""Statements over many rows at once: a fleet's rows in a few round trips, not one per row."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

T = TypeVar("T")
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
    columns = updated if updated is not None else [n for n in rows[0] if n not in keys]
    if connection.dialect.name == "postgresql":
        statement = _unnest_insert(table, rows)
        await connection.execute(
            statement.on_conflict_do_update(
                index_elements=list(keys), set_={n: statement.excluded[n] for n in columns}
            )
        )
        return
    # Many parameter sets for one compiled statement (the driver's executemany), not a
    # statement compiled anew for every few hundred rows.
    insert = sqlite.insert(table)
    await connection.execute(
        insert.on_conflict_do_update(
            index_elements=list(keys), set_={n: insert.excluded[n] for n in columns}
        ),
        rows,
    )


async def insert(
    connection: AsyncConnection, table: sa.Table, rows: Sequence[dict[str, Any]]
) -> None:
    """Inserts the rows (all with the same columns)."""
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        await connection.execute(_unnest_insert(table, rows))
    else:
        await connection.execute(sa.insert(table), rows)


def _unnest_insert(table: sa.Table, rows: Sequence[dict[str, Any]]) -> postgresql.Insert:
    """INSERT ... SELECT from one array per column: any number of rows in one round trip."""
    names = list(rows[0])
    arrays = [
        sa.bindparam(
            f"bulk_{name}", [row[name] for row in rows], type_=postgresql.ARRAY(table.c[name].type)
        )
        for name in names
    ]
    source = sa.func.unnest(*arrays).table_valued(*names).render_derived()
    return postgresql.insert(table).from_select(names, sa.select(*[source.c[n] for n in names]))
