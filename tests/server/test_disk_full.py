"""A full disk is a 507 that says so, leaves nothing half-written, and passes when space returns.

The server's data (SQLite and package files), or on PostgreSQL a tablespace holding its database,
lies on a small tmpfs that the test fills with a file of its own; mounting needs root, as CI has.
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import create_tenant, database_for
from tests.support.api import Api, assert_error, entity_id
from tests.support.process import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    ServerProcess,
    postgres_admin_url,
    start_server,
)

FULL = "Storage is full"


@contextmanager
def small_disk(megabytes: int) -> Iterator[Path]:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root to mount a small tmpfs (CI runs as root)")
    # Outside pytest's private temporary directory, which PostgreSQL's user may not enter.
    path = Path(tempfile.mkdtemp(prefix="otakit-disk-"))
    path.chmod(0o755)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(path)], check=True
    )
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)
        path.rmdir()


def fill(disk: Path) -> Path:
    """Writes a file until the disk is full; deleting it gives the space back."""
    filler = disk / "filler"
    # Unbuffered: a buffered file would try its last piece again on close, and fail there.
    with filler.open("wb", buffering=0) as file:
        try:
            while True:
                file.write(b"\0" * 65536)
        except OSError as error:
            assert error.errno == errno.ENOSPC
    return filler


@contextmanager
def postgres_tablespace(disk: Path) -> Iterator[str]:
    """A database whose tablespace lies on `disk`; creating one needs PostgreSQL's superuser."""
    if postgres_admin_url() is None or shutil.which("runuser") is None:
        pytest.skip("needs a local PostgreSQL whose superuser root can act as")
    name = "otakit_full_" + uuid.uuid4().hex[:8]
    location = disk / "pg"
    location.mkdir()
    shutil.chown(location, "postgres", "postgres")

    def superuser(sql: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", "psql", "-q", "-c", sql], check=True)

    superuser(f"CREATE TABLESPACE {name} OWNER otakit LOCATION '{location}'")
    try:
        with ExitStack() as stack:
            url = database_for("postgresql", stack)
            database = url.rsplit("/", 1)[1]
            superuser(f'ALTER DATABASE "{database}" SET TABLESPACE {name}')
            yield url
    finally:
        superuser(f"DROP TABLESPACE IF EXISTS {name}")


@pytest.fixture
def full_server(backend: str, tmp_path: Path) -> Iterator[tuple[ServerProcess, Path]]:
    with ExitStack() as stack:
        disk = stack.enter_context(small_disk(48))
        database_url = (
            stack.enter_context(postgres_tablespace(disk)) if backend == "postgresql" else ""
        )
        server = start_server(
            disk / "data",
            database_url,
            env={"OTAKIT_MAX_PACKAGE_SIZE": str(32 << 20)},
            log_dir=tmp_path,  # not on the disk that fills up
        )
        try:
            yield server, disk
        finally:
            server.stop()


def admin_of_new_tenant(server: ServerProcess) -> tuple[Api, str]:
    tenant = create_tenant(Api.login(server.url, ADMIN_EMAIL, ADMIN_PASSWORD))
    return tenant.api, tenant.default_profile_id


def until_refused(send: object, attempts: int = 2000) -> httpx.Response:
    """Sends until the server refuses; what it refuses with is the point."""
    assert callable(send)
    for _ in range(attempts):
        response: httpx.Response = send()
        if response.status_code != 200:
            return response
    raise AssertionError(f"still accepted after {attempts} requests on a full disk")


def test_a_full_disk_is_507_and_nothing_half_written(
    full_server: tuple[ServerProcess, Path],
) -> None:
    server, disk = full_server
    api, profile = admin_of_new_tenant(server)
    package = api.create_package(profile, "fw", "1.0")
    token = "full-disk-device"
    api.create_device("d", profile, token=token)
    filler = fill(disk)

    upload = api.http.post(
        f"/api/otaPackage/{package['id']['id']}",
        params={"checksumAlgorithm": "SHA256"},
        files={"file": ("fw.bin", os.urandom(4 << 20), "application/octet-stream")},
    )
    assert_error(upload, 507, FULL)
    assert list((disk / "data" / "blobs" / "staging").iterdir()) == []
    assert api.get(f"/api/otaPackage/info/{package['id']['id']}")["hasData"] is False

    # The database fails once what it had in reserve is used up: with 507, never 500.
    big = {f"k{n}": "v" * 900 for n in range(100)}
    refused = until_refused(lambda: api.http.post(f"/api/v1/{token}/telemetry", json=big))
    assert_error(refused, 507, FULL)
    created = until_refused(
        lambda: api.http.post(
            "/api/otaPackage",
            json={
                "title": f"fw-{uuid.uuid4().hex}",
                "version": "x" * 200,
                "type": "FIRMWARE",
                "deviceProfileId": entity_id("DEVICE_PROFILE", profile),
                "additionalInfo": {"description": "d" * 20000},
            },
        )
    )
    assert_error(created, 507, FULL)
    assert "Traceback" not in server.log()

    filler.unlink()
    data = os.urandom(100_000)
    assert api.upload(package["id"]["id"], data)["dataSize"] == len(data)
    assert api.request("GET", f"/api/otaPackage/{package['id']['id']}/download").content == data
    assert api.http.post(f"/api/v1/{token}/telemetry", json={"t": 1}).status_code == 200
    if not server.database_url:
        with sqlite3.connect(disk / "data" / "otakit.db") as database:
            assert database.execute("PRAGMA integrity_check").fetchone() == ("ok",)
