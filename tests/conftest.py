"""Shared fixtures: a real otakit server per database backend, and fresh tenants on it.

Every test that uses `server` runs twice: on SQLite and on PostgreSQL. The PostgreSQL run needs
OTAKIT_TEST_POSTGRES_URL (an account that may create databases); CI sets it, and sets
OTAKIT_TEST_REQUIRE_POSTGRES so that a missing PostgreSQL fails instead of skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from otatarget import rest
from tests.support.api import Api
from tests.support.process import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    POSTGRES_URL_ENV,
    REQUIRE_POSTGRES_ENV,
    ServerProcess,
    fresh_postgres_database,
    postgres_admin_url,
    start_server,
)

# Small enough that the tests can exceed it cheaply.
TEST_MAX_PACKAGE_SIZE = 4 * 1024 * 1024


def database_for(backend: str, stack: ExitStack) -> str:
    if backend == "sqlite":
        return ""
    if postgres_admin_url() is None:
        if os.environ.get(REQUIRE_POSTGRES_ENV):
            pytest.fail(f"{REQUIRE_POSTGRES_ENV} is set but {POSTGRES_URL_ENV} is not")
        pytest.skip(f"PostgreSQL run needs {POSTGRES_URL_ENV} (scripts/test.sh sets it up as root)")
    return stack.enter_context(fresh_postgres_database())


@pytest.fixture(autouse=True)
def _close_test_clients() -> Iterator[None]:
    before = len(Api.opened)
    yield
    Api.close_since(before)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def server(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ExitStack() as stack:
        database_url = database_for(backend, stack)
        process = start_server(
            tmp_path_factory.mktemp(f"otakit-{backend}"),
            database_url,
            # A queue pace no test waits for; the orchestration tests start paced servers.
            env={
                "OTAKIT_MAX_PACKAGE_SIZE": str(TEST_MAX_PACKAGE_SIZE),
                "OTAKIT_QUEUE_PACK_SIZE": "100000",
                "OTAKIT_QUEUE_PACK_INTERVAL_MS": "1000",
            },
        )
        try:
            yield process
        finally:
            process.stop()


@pytest.fixture(scope="session")
def sysadmin(server: ServerProcess) -> Iterator[Api]:
    api = Api.login(server.url, ADMIN_EMAIL, ADMIN_PASSWORD)
    Api.opened.remove(api)  # lives for the session, not for the test that made it
    yield api
    api.http.close()


@dataclass
class TenantContext:
    """A fresh tenant with a logged-in administrator and its default device profile."""

    api: Api
    tenant_id: str
    admin_email: str
    default_profile_id: str

    def new_user(
        self, authority: str, password: str = "user-password", customer_id: str | None = None
    ) -> Api:
        email = rest.new_user(
            self.api.http, authority, authority.lower(), password, customer_id=customer_id
        )
        return Api.login(self.api.url, email, password)

    def new_customer_user(self) -> tuple[Api, str]:
        customer = self.api.post("/api/customer", {"title": f"customer-{uuid.uuid4().hex[:6]}"})
        customer_id = customer["id"]["id"]
        return self.new_user("CUSTOMER_USER", customer_id=customer_id), customer_id


def activate(creator: Api, user_id: str, email: str, password: str) -> Api:
    """Sets a new user's password through ThingsBoard's activation link and logs them in."""
    pair = rest.activate(creator.http, user_id, password)
    assert pair["token"] and pair["refreshToken"]
    return Api.login(creator.url, email, password)


def create_tenant(sysadmin: Api, password: str = "tenant-password") -> TenantContext:
    tenant = sysadmin.post("/api/tenant", {"title": f"tenant-{uuid.uuid4().hex[:8]}"})
    tenant_id = tenant["id"]["id"]
    email = rest.new_user(sysadmin.http, "TENANT_ADMIN", "admin", password, tenant_id=tenant_id)
    api = Api.login(sysadmin.url, email, password)
    profile = api.get("/api/deviceProfileInfo/default")
    return TenantContext(api, tenant_id, email, profile["id"]["id"])


@pytest.fixture
def tenant(sysadmin: Api) -> TenantContext:
    return create_tenant(sysadmin)


@pytest.fixture
def new_tenant(sysadmin: Api) -> Callable[[], TenantContext]:
    return lambda: create_tenant(sysadmin)


@pytest.fixture
def blob_files(server: ServerProcess) -> Callable[[], list[Path]]:
    """Every file in the server's blob store, staging area included."""
    return lambda: sorted(p for p in (server.data_dir / "blobs").rglob("*") if p.is_file())
