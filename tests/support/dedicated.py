"""A server of a test's own, with its own settings and log, and a tenant on it."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path

from tests.conftest import TenantContext, create_tenant, database_for
from tests.support.api import Api
from tests.support.process import ADMIN_EMAIL, ADMIN_PASSWORD, ServerProcess, start_server

# As the shared server: an update queue that notifies a new device within a second.
QUEUE = {"OTAKIT_QUEUE_PACK_SIZE": "100000", "OTAKIT_QUEUE_PACK_INTERVAL_MS": "1000"}


@contextmanager
def dedicated_server(
    backend: str, data_dir: Path, env: Mapping[str, str]
) -> Iterator[tuple[ServerProcess, TenantContext]]:
    with ExitStack() as stack:
        server = start_server(data_dir, database_for(backend, stack), env={**QUEUE, **env})
        stack.callback(server.stop)
        admin = Api.login(server.url, ADMIN_EMAIL, ADMIN_PASSWORD)
        yield server, create_tenant(admin)


# A log record's first line starts with its time; the lines of a traceback do not.
_RECORD_START = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
_EXCEPTION = re.compile(r"[A-Za-z_][\w.]*(:|$)")


def tracebacks(log: str) -> list[str]:
    """Every record of a server log that holds a traceback, whole: its first line (what was
    logged), the traceback, and the exception it ends with."""
    records: list[list[str]] = [[]]
    for line in log.splitlines():
        if _RECORD_START.match(line):
            records.append([])
        records[-1].append(line)
    return ["\n".join(r) for r in records if any(line.startswith("Traceback") for line in r)]


def exception_of(record: str) -> str:
    """The exception a traceback record ends with: its last line that names an exception
    (SQLAlchemy adds a line of its own after it)."""
    return [line for line in record.splitlines() if _EXCEPTION.match(line)][-1]
