"""A server of a test's own, with its own settings and log, and a tenant on it."""

from __future__ import annotations

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


def tracebacks(log: str) -> list[str]:
    """The lines of a server log from a traceback on, one excerpt per traceback."""
    lines = log.splitlines()
    return ["\n".join(lines[i : i + 30]) for i, line in enumerate(lines) if "Traceback" in line]
