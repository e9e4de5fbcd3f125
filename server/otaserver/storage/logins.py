"""Login sessions, failed-login counts and known login addresses, over SQLAlchemy Core."""

from __future__ import annotations

from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.logins import FailureCount
from ..domain.model import User, UserSession
from . import tables

_COUNT_COLUMNS = ("failures", "first_ts", "locked_until")


class SessionRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, session: UserSession) -> None:
        await self._connection.execute(
            sa.insert(tables.user_sessions).values(
                id=session.id,
                created_time=session.created_time,
                user_id=session.user_id,
                expires_ts=session.expires_ts,
            )
        )

    async def user_of(self, session_id: UUID, now_ms: int) -> User | None:
        """The user of a live session; None when the session ended or never was."""
        sessions, users = tables.user_sessions, tables.users
        row = (
            await self._connection.execute(
                sa.select(users)
                .join(sessions, sessions.c.user_id == users.c.id)
                .where(sessions.c.id == session_id, sessions.c.expires_ts > now_ms)
            )
        ).first()
        return None if row is None else User(**row._mapping)

    async def extend(self, session_id: UUID, expires_ts: int) -> None:
        sessions = tables.user_sessions
        await self._connection.execute(
            sa.update(sessions).where(sessions.c.id == session_id).values(expires_ts=expires_ts)
        )

    async def delete(self, session_id: UUID) -> None:
        sessions = tables.user_sessions
        await self._connection.execute(sa.delete(sessions).where(sessions.c.id == session_id))

    async def delete_for_user(self, user_id: UUID) -> None:
        sessions = tables.user_sessions
        await self._connection.execute(sa.delete(sessions).where(sessions.c.user_id == user_id))

    async def delete_expired(self, now_ms: int) -> None:
        sessions = tables.user_sessions
        await self._connection.execute(sa.delete(sessions).where(sessions.c.expires_ts <= now_ms))


class LoginRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    def _insert(self, table: sa.Table) -> sqlite.Insert | postgresql.Insert:
        if self._connection.dialect.name == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    async def failures(self, key: str, lock: bool = False) -> FailureCount | None:
        """The count of a key; with `lock`, held until the transaction ends (PostgreSQL)."""
        table = tables.login_failures
        if lock:
            # A row to lock even for the first failure, so two at once are both counted.
            await self._connection.execute(
                self._insert(table)
                .values(key=key, failures=0, first_ts=0, locked_until=0)
                .on_conflict_do_nothing(index_elements=["key"])
            )
        query = sa.select(table.c.failures, table.c.first_ts, table.c.locked_until).where(
            table.c.key == key
        )
        row = (await self._connection.execute(query.with_for_update() if lock else query)).first()
        return None if row is None else FailureCount(row.failures, row.first_ts, row.locked_until)

    async def save_failures(self, key: str, count: FailureCount) -> None:
        table = tables.login_failures
        statement = self._insert(table).values(
            key=key,
            failures=count.failures,
            first_ts=count.first_ts,
            locked_until=count.locked_until,
        )
        await self._connection.execute(
            statement.on_conflict_do_update(
                index_elements=["key"],
                set_={
                    name: statement.excluded[name]
                    for name in ("failures", "first_ts", "locked_until")
                },
            )
        )

    async def clear_failures(self, key: str) -> None:
        table = tables.login_failures
        await self._connection.execute(sa.delete(table).where(table.c.key == key))

    async def known(self, user_id: UUID, address: str, since_ms: int) -> bool:
        table = tables.known_logins
        row = (
            await self._connection.execute(
                sa.select(table.c.last_ts).where(
                    table.c.user_id == user_id,
                    table.c.address == address,
                    table.c.last_ts >= since_ms,
                )
            )
        ).first()
        return row is not None

    async def remember(self, user_id: UUID, address: str, now_ms: int) -> None:
        table = tables.known_logins
        statement = self._insert(table).values(user_id=user_id, address=address, last_ts=now_ms)
        await self._connection.execute(
            statement.on_conflict_do_update(
                index_elements=["user_id", "address"], set_={"last_ts": statement.excluded.last_ts}
            )
        )
