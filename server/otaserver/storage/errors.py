"""Database failures that are the world's fault, not a bug: told to clients in their own words."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from ..domain.errors import InsufficientStorage

SQLITE_FULL = 13
POSTGRES_DISK_FULL = "53100"
# A new PostgreSQL session that cannot write its relation cache file (the database's directory
# is full) says so as an internal error, not as disk_full.
POSTGRES_INTERNAL = "XX000"
POSTGRES_INIT_FILE = "could not write init file"


@contextmanager
def storage_errors() -> Iterator[None]:
    """Turns a full disk under the database into InsufficientStorage (507)."""
    try:
        yield
    except sa.exc.DBAPIError as error:
        if is_disk_full(error.orig):
            raise InsufficientStorage("the database") from error
        raise


def is_disk_full(error: BaseException | None) -> bool:
    """True for SQLite's SQLITE_FULL and PostgreSQL's disk_full, however the driver wraps them."""
    seen = 0
    while error is not None and seen < 5:
        if getattr(error, "sqlite_errorcode", None) == SQLITE_FULL:
            return True
        if getattr(error, "sqlstate", None) == POSTGRES_DISK_FULL:
            return True
        if getattr(error, "sqlstate", None) == POSTGRES_INTERNAL and POSTGRES_INIT_FILE in str(
            error
        ):
            return True
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        error, seen = error.__cause__ or error.__context__, seen + 1
    return False
