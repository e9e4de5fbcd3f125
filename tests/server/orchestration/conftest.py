"""Servers with their own queue pace for the orchestration tests, on each database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest

from tests.conftest import TenantContext, create_tenant, database_for
from tests.support.api import Api
from tests.support.process import ADMIN_EMAIL, ADMIN_PASSWORD, ServerProcess, start_server

Paced = Callable[[int, int], tuple[ServerProcess, TenantContext]]


@pytest.fixture
def paced(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., tuple[ServerProcess, TenantContext]]]:
    """Starts a server with a pack size and interval (and more settings), and a tenant on it."""
    with ExitStack() as stack:

        def start(size: int, interval_ms: int, **env: str) -> tuple[ServerProcess, TenantContext]:
            server = start_server(
                tmp_path_factory.mktemp("paced"),
                database_for(backend, stack),
                env={
                    "TB_QUEUE_CORE_FW_PACK_SIZE": str(size),
                    "TB_QUEUE_CORE_FW_PACK_INTERVAL_MS": str(interval_ms),
                    **env,
                },
            )
            stack.callback(server.stop)
            admin = Api.login(server.url, ADMIN_EMAIL, ADMIN_PASSWORD)
            return server, create_tenant(admin)

        yield start
