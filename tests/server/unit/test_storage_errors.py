"""A full disk under the database is told apart from a bug, however the driver words it."""

from __future__ import annotations

import errno

from otaserver.storage.errors import is_disk_full


class DriverError(Exception):
    def __init__(self, message: str, sqlstate: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


def wrapped(error: BaseException) -> BaseException:
    """As SQLAlchemy hands it on: the driver's error as the cause of its own."""
    outer = RuntimeError("translated")
    outer.__cause__ = error
    return outer


def test_postgresql_disk_full_and_a_session_that_cannot_write_its_init_file() -> None:
    assert is_disk_full(wrapped(DriverError("could not extend file", "53100")))
    assert is_disk_full(wrapped(DriverError("could not write init file", "XX000")))


def test_sqlite_full_and_enospc() -> None:
    full = Exception("database or disk is full")
    full.sqlite_errorcode = 13  # type: ignore[attr-defined]
    assert is_disk_full(wrapped(full))
    assert is_disk_full(OSError(errno.ENOSPC, "No space left on device"))


def test_other_internal_errors_are_bugs() -> None:
    assert not is_disk_full(wrapped(DriverError("cache lookup failed for relation 1", "XX000")))
    assert not is_disk_full(wrapped(DriverError("deadlock detected", "40P01")))
    assert not is_disk_full(None)
