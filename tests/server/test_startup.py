"""`otakit serve` on a fresh data directory: migrations, the first admin, and --demo."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.conftest import database_for
from tests.support.api import Api
from tests.support.process import ServerProcess, start_server


@pytest.fixture
def database(backend: str) -> Iterator[str]:
    with ExitStack() as stack:
        yield database_for(backend, stack)


def run(data_dir: Path, database: str, *args: str, **env: str) -> ServerProcess:
    return start_server(data_dir, database, args, env=env)


def test_demo_seeds_thingsboards_accounts_and_devices(tmp_path: Path, database: str) -> None:
    server = run(tmp_path, database, "--demo")
    try:
        printed = server.log()
        tokens = re.findall(r"access token (\S+)", printed)
        assert len(tokens) == 3
        sysadmin = Api.login(server.url, "sysadmin@thingsboard.org", "sysadmin")
        tenant = Api.login(server.url, "tenant@thingsboard.org", "tenant")
        customer = Api.login(server.url, "customer@thingsboard.org", "customer")
        assert (
            sysadmin.get("/api/tenants", params={"pageSize": 10, "page": 0})["totalElements"] == 1
        )
        devices = tenant.get("/api/tenant/devices", params={"pageSize": 10, "page": 0})["data"]
        stored = {
            tenant.get(f"/api/device/{d['id']['id']}/credentials")["credentialsId"] for d in devices
        }
        assert stored == set(tokens)
        assert {d["type"] for d in devices} == {"thermostat"}
        mine = customer.get("/api/tenant/devices", params={"pageSize": 10, "page": 0})["data"]
        assert len(mine) == 1
    finally:
        server.stop()
    # A second start with --demo adds nothing.
    again = run(tmp_path, database, "--demo")
    try:
        tenant = Api.login(again.url, "tenant@thingsboard.org", "tenant")
        assert (
            tenant.get("/api/tenant/devices", params={"pageSize": 10, "page": 0})["totalElements"]
            == 3
        )
    finally:
        again.stop()


def test_first_start_creates_the_admin_from_the_environment(tmp_path: Path, database: str) -> None:
    server = run(
        tmp_path,
        database,
        OTAKIT_ADMIN_EMAIL="boss@ota.test",
        OTAKIT_ADMIN_PASSWORD="boss-password",
    )
    try:
        assert "System administrator created: boss@ota.test" in server.log()
        assert "generated password" not in server.log()
        me = Api.login(server.url, "boss@ota.test", "boss-password").get("/api/auth/user")
        assert me["authority"] == "SYS_ADMIN"
    finally:
        server.stop()


def test_first_start_prints_a_random_password_once(tmp_path: Path, database: str) -> None:
    server = run(tmp_path, database, OTAKIT_ADMIN_EMAIL="root@ota.test", OTAKIT_ADMIN_PASSWORD="")
    try:
        match = re.search(r"generated password \(shown once\): (\S+)", server.log())
        assert match, server.log()
        Api.login(server.url, "root@ota.test", match.group(1))
    finally:
        server.stop()
    second = run(tmp_path, database, OTAKIT_ADMIN_EMAIL="root@ota.test", OTAKIT_ADMIN_PASSWORD="")
    try:
        assert "generated password" not in second.log()
        Api.login(second.url, "root@ota.test", match.group(1))
    finally:
        second.stop()


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    import sqlite3

    server = run(tmp_path, "")
    try:
        with sqlite3.connect(tmp_path / "otakit.db") as connection:
            assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        server.stop()
