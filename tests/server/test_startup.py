"""`otakit serve` starting: what a first start creates, and every way a start can fail.

A start that fails must say why in one line on stderr that names the setting, exit non-zero
(2: a bad setting, 1: the environment), print nothing that looks like success, and create
nothing: no administrator whose password nobody saw, no demo data, no database tables.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.conftest import database_for
from tests.support.api import Api
from tests.support.process import (
    ServerProcess,
    free_port,
    free_udp_port,
    start_server,
)

PASSWORD_FILE = "admin-password.txt"


@pytest.fixture
def database(backend: str) -> Iterator[str]:
    with ExitStack() as stack:
        yield database_for(backend, stack)


def run(data_dir: Path, database: str, *args: str, **env: str) -> ServerProcess:
    return start_server(data_dir, database, args, env=env)


def otakit(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`otakit ARGS` to its end, with only the OTAKIT_ variables given here."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OTAKIT_")}
    return subprocess.run(
        [sys.executable, "-m", "otaserver.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**environment, **env},
        check=False,
    )


def serve_args(data_dir: Path, database: str, ports: tuple[int, int, int]) -> list[str]:
    http, mqtt, coap = ports
    args = ["serve", "--host", "127.0.0.1", "--data-dir", str(data_dir)]
    args += ["--http-port", str(http), "--mqtt-port", str(mqtt), "--coap-port", str(coap)]
    return args + (["--database-url", database] if database else [])


def free_ports() -> tuple[int, int, int]:
    return free_port(), free_port(), free_udp_port()


def assert_failed_cleanly(result: subprocess.CompletedProcess[str], code: int, *names: str) -> str:
    """The one line on stderr, which must name each of `names`; nothing on stdout."""
    lines = result.stderr.splitlines()
    assert result.returncode == code, (result.returncode, result.stderr)
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("otakit: "), lines
    for name in names:
        assert name in lines[0], (name, lines[0])
    assert "Traceback" not in result.stderr
    assert result.stdout == "", result.stdout  # no banner, no "serving", no "startup complete"
    return lines[0]


def tables_in(database: str) -> int:
    async def count() -> int:
        connection = await asyncpg.connect(database)
        try:
            return int(
                await connection.fetchval(
                    "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
                )
            )
        finally:
            await connection.close()

    return asyncio.run(count())


def assert_nothing_created(data_dir: Path, database: str) -> None:
    assert not data_dir.exists() or not any(data_dir.iterdir()), list(data_dir.iterdir())
    if database:
        assert tables_in(database) == 0


def generated_password(data_dir: Path) -> str:
    path = data_dir / PASSWORD_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    return path.read_text().strip()


# ---- what a start creates ------------------------------------------------------------------


def test_demo_seeds_thingsboards_accounts_and_devices(tmp_path: Path, database: str) -> None:
    server = run(tmp_path, database, "--demo")
    try:
        printed = server.log()
        tokens = re.findall(r"access token (\S+)", printed)
        assert len(tokens) == 3
        # The banner says which profile the devices are on: a package goes on that one.
        assert 'devices on profile "thermostat"' in printed
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
        assert not (tmp_path / PASSWORD_FILE).exists()
        me = Api.login(server.url, "boss@ota.test", "boss-password").get("/api/auth/user")
        assert me["authority"] == "SYS_ADMIN"
    finally:
        server.stop()


def test_a_generated_password_goes_to_a_file_only_its_owner_reads(
    tmp_path: Path, database: str
) -> None:
    server = run(tmp_path, database, OTAKIT_ADMIN_EMAIL="root@ota.test", OTAKIT_ADMIN_PASSWORD="")
    try:
        password = generated_password(tmp_path)
        # Not in the output (which a service manager keeps in its log), but where it is.
        assert password not in server.log()
        assert f"password is in {(tmp_path / PASSWORD_FILE).resolve()}" in server.log()
        Api.login(server.url, "root@ota.test", password)
    finally:
        server.stop()
    second = run(tmp_path, database, OTAKIT_ADMIN_EMAIL="root@ota.test", OTAKIT_ADMIN_PASSWORD="")
    try:
        assert "password is in" not in second.log()
        assert generated_password(tmp_path) == password
        Api.login(second.url, "root@ota.test", password)
    finally:
        second.stop()


def test_an_admin_password_for_an_existing_admin_is_not_ignored_in_silence(
    tmp_path: Path, database: str
) -> None:
    first = {"OTAKIT_ADMIN_EMAIL": "root@ota.test", "OTAKIT_ADMIN_PASSWORD": "first-password"}
    run(tmp_path, database, **first).stop()
    changed = run(tmp_path, database, **{**first, "OTAKIT_ADMIN_PASSWORD": "second-password"})
    try:
        hints = [line for line in changed.log().splitlines() if "--admin-password" in line]
        assert len(hints) == 1, changed.log()
        assert "otakit admin reset-password" in hints[0]
        Api.login(changed.url, "root@ota.test", "first-password")  # not applied
    finally:
        changed.stop()
    same = run(tmp_path, database, **first)
    try:
        assert "--admin-password" not in same.log()  # it is the password: nothing to say
    finally:
        same.stop()


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    import sqlite3

    server = run(tmp_path, "")
    try:
        with sqlite3.connect(tmp_path / "otakit.db") as connection:
            assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        server.stop()


# ---- resetting a password ------------------------------------------------------------------


def reset(data_dir: Path, database: str, *args: str) -> subprocess.CompletedProcess[str]:
    where = ["--data-dir", str(data_dir)] + (["--database-url", database] if database else [])
    return otakit("admin", "reset-password", *where, *args)


def test_reset_password_generates_one_into_the_file_and_ends_sessions(
    tmp_path: Path, database: str
) -> None:
    server = run(tmp_path, database, OTAKIT_ADMIN_EMAIL="root@ota.test")
    try:
        old = Api.login(server.url, "root@ota.test", "root-password")
        result = reset(tmp_path, database)  # while the server runs
        assert result.returncode == 0, result.stderr
        path = (tmp_path / PASSWORD_FILE).resolve()
        assert result.stdout.strip() == (
            f"otakit: root@ota.test has a new password, in {path} (readable only by its owner)"
        )
        password = generated_password(tmp_path)
        assert password not in result.stdout + result.stderr
        old.request("GET", "/api/auth/user", expect=401)  # its sessions have ended
        refused = httpx.post(
            server.url + "/api/auth/login",
            json={"username": "root@ota.test", "password": "root-password"},
        )
        assert refused.status_code == 401, refused.text
        Api.login(server.url, "root@ota.test", password)
        chosen = reset(tmp_path, database, "--email", "root@ota.test", "--password", "chosen-pw")
        assert chosen.returncode == 0, chosen.stderr
        assert "root@ota.test has the new password" in chosen.stdout
        Api.login(server.url, "root@ota.test", "chosen-pw")
    finally:
        server.stop()


def test_reset_password_refusals_are_one_line(tmp_path: Path, database: str) -> None:
    run(tmp_path, database).stop()
    unknown = reset(tmp_path, database, "--email", "nobody@ota.test")
    assert_failed_cleanly(unknown, 1, "nobody@ota.test")
    short = reset(tmp_path, database, "--password", "abc")
    assert_failed_cleanly(short, 2, "at least 6")
    if not database:
        elsewhere = reset(tmp_path / "typo", "")
        assert_failed_cleanly(elsewhere, 1, "--data-dir", str(tmp_path / "typo"))
        assert not (tmp_path / "typo").exists()


# ---- failed starts ---------------------------------------------------------------------------


@contextmanager
def occupied(kind: str, port: int) -> Iterator[None]:
    """Another process's socket on `port`: listening TCP, or bound UDP (no SO_REUSEPORT)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", port))
        if kind == "tcp":
            sock.listen()
        yield
    finally:
        sock.close()


@pytest.mark.parametrize(
    ("which", "kind", "flag", "what"),
    [
        (0, "tcp", "--http-port", "HTTP"),
        (1, "tcp", "--mqtt-port", "MQTT"),
        (2, "udp", "--coap-port", "CoAP"),
    ],
)
def test_a_busy_port_ends_the_start_before_anything_is_created(
    tmp_path: Path, database: str, which: int, kind: str, flag: str, what: str
) -> None:
    ports = free_ports()
    data_dir = tmp_path / "data"
    with occupied(kind, ports[which]):
        result = otakit(*serve_args(data_dir, database, ports))
    line = assert_failed_cleanly(result, 1, f"{what} port {ports[which]}", flag, "in use")
    assert line.startswith(f"otakit: {what} port {ports[which]}")
    assert_nothing_created(data_dir, database)
    # Nobody is locked out: the next start creates the administrator, with its password kept.
    server = start_server(data_dir, database, env={"OTAKIT_ADMIN_PASSWORD": ""}, ports=ports)
    try:
        Api.login(server.url, "root@otakit.test", generated_password(data_dir))
    finally:
        server.stop()


def test_a_second_server_cannot_share_the_coap_port(tmp_path: Path) -> None:
    first = start_server(tmp_path / "first")
    try:
        ports = (free_port(), free_port(), first.coap_port)
        result = otakit(*serve_args(tmp_path / "second", "", ports))
        assert_failed_cleanly(result, 1, f"CoAP port {first.coap_port}", "--coap-port", "in use")
    finally:
        first.stop()


@contextmanager
def unwritable(directory: Path) -> Iterator[None]:
    """A directory this process cannot write to, even as root (then made immutable)."""
    directory.mkdir()
    if os.geteuid() != 0:
        directory.chmod(0o555)
        try:
            yield
        finally:
            directory.chmod(0o755)
        return
    made = subprocess.run(["chattr", "+i", str(directory)], capture_output=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"a directory root cannot write to needs chattr +i: {made.stderr!r}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(directory)], check=True)


@pytest.mark.parametrize(
    "problem", ["a file", "under a file", "not writable", "parent not writable"]
)
def test_an_unusable_data_directory_is_one_line(tmp_path: Path, problem: str) -> None:
    with ExitStack() as stack:
        if problem == "a file":
            data_dir = tmp_path / "data"
            data_dir.write_text("not a directory")
            expected = "is a file"
        elif problem == "under a file":
            (tmp_path / "file").write_text("")
            data_dir = tmp_path / "file" / "data"
            expected = "cannot be made"
        elif problem == "not writable":
            data_dir = tmp_path / "data"
            stack.enter_context(unwritable(data_dir))
            expected = "not writable"
        else:
            stack.enter_context(unwritable(tmp_path / "locked"))
            data_dir = tmp_path / "locked" / "data"
            expected = "cannot be made"
        result = otakit(*serve_args(data_dir, "", free_ports()))
    assert_failed_cleanly(result, 1, "--data-dir", str(data_dir), expected)


def test_an_unreachable_database_is_one_line_without_its_password(tmp_path: Path) -> None:
    url = f"postgresql://otakit:secret-pw@127.0.0.1:{free_port()}/otakit"
    result = otakit(*serve_args(tmp_path / "data", url, free_ports()))
    line = assert_failed_cleanly(result, 1, "--database-url", "cannot be used")
    assert "secret-pw" not in line


@pytest.mark.parametrize(
    ("args", "env", "names"),
    [
        (["--log-level", "loud"], {}, ["'loud'", "--log-level"]),
        (["--http-port", "eighty"], {}, ["'eighty'", "--http-port"]),
        (["--mqtt-port", "70000"], {}, ["--mqtt-port", "65535"]),
        ([], {"OTAKIT_MAX_JSON_DEPTH": "deep"}, ["OTAKIT_MAX_JSON_DEPTH"]),
        (["--database-url", "mysql://db/ota"], {}, ["--database-url"]),
        (["--jwt-secret", "short"], {}, ["--jwt-secret"]),
        (["--demo"], {"OTAKIT_QUEUE_PACK_SIZE": "0"}, ["OTAKIT_QUEUE_PACK_SIZE"]),
        ([], {"OTAKIT_OTA_STUCK_TIMEOUTS": "NAPPING=3"}, ["OTAKIT_OTA_STUCK_TIMEOUTS"]),
    ],
)
def test_a_bad_setting_is_one_line_and_exit_code_2(
    tmp_path: Path, args: list[str], env: dict[str, str], names: list[str]
) -> None:
    data_dir = tmp_path / "data"
    # Given last, a flag here wins over serve_args' own.
    result = otakit(*serve_args(data_dir, "", free_ports()), *args, **env)
    assert_failed_cleanly(result, 2, *names)
    assert not data_dir.exists()


def test_a_host_that_is_not_here_is_one_line(tmp_path: Path) -> None:
    args = serve_args(tmp_path / "data", "", free_ports())
    args[args.index("--host") + 1] = "192.0.2.1"  # TEST-NET-1: never this machine's
    assert_failed_cleanly(otakit(*args), 1, "192.0.2.1", "--host")


def test_reset_password_ends_a_login_lockout(tmp_path: Path, database: str) -> None:
    server = run(tmp_path, database, OTAKIT_LOGIN_MAX_FAILURES="2")
    try:

        def login(password: str) -> int:
            body = {"username": "root@otakit.test", "password": password}
            return httpx.post(server.url + "/api/auth/login", json=body).status_code

        assert [login("wrong-guess"), login("wrong-guess")] == [401, 401]
        assert login("root-password") == 429  # locked, and this address never logged in
        result = reset(tmp_path, database, "--password", "after-lockout")
        assert result.returncode == 0, result.stderr
        assert login("after-lockout") == 200
    finally:
        server.stop()
