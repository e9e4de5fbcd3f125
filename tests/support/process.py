"""Starting real `otakit serve` processes for tests, on SQLite or on a fresh PostgreSQL database."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

POSTGRES_URL_ENV = "OTAKIT_TEST_POSTGRES_URL"
REQUIRE_POSTGRES_ENV = "OTAKIT_TEST_REQUIRE_POSTGRES"
ADMIN_EMAIL, ADMIN_PASSWORD = "root@otakit.test", "root-password"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    url: str
    mqtt_port: int
    coap_port: int
    data_dir: Path
    database_url: str
    process: subprocess.Popen[str]
    log_path: Path

    @property
    def ports(self) -> tuple[int, int, int]:
        return int(self.url.rsplit(":", 1)[1]), self.mqtt_port, self.coap_port

    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(
    data_dir: Path,
    database_url: str = "",
    extra_args: tuple[str, ...] = (),
    env: Mapping[str, str] | None = None,
    timeout: float = 30.0,
    ports: tuple[int, int, int] | None = None,
    log_dir: Path | None = None,
) -> ServerProcess:
    """`ports` (HTTP, MQTT, CoAP) restarts a server where its devices expect it; the log goes
    to the data directory unless `log_dir` says otherwise."""
    port, mqtt_port, coap_port = ports or (free_port(), free_port(), free_udp_port())
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = (log_dir or data_dir) / f"server-{port}.log"
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("OTAKIT_")},
        "OTAKIT_ADMIN_EMAIL": ADMIN_EMAIL,
        "OTAKIT_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "OTAKIT_LOG_LEVEL": "warning",
        **(env or {}),
    }
    args = [
        sys.executable,
        "-m",
        "otaserver.cli",
        "serve",
        "--host",
        "127.0.0.1",
        "--http-port",
        str(port),
        "--mqtt-port",
        str(mqtt_port),
        "--coap-port",
        str(coap_port),
        "--data-dir",
        str(data_dir),
        *extra_args,
    ]
    if database_url:
        args += ["--database-url", database_url]
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            args, stdout=log_file, stderr=subprocess.STDOUT, text=True, env=environment
        )
    server = ServerProcess(
        f"http://127.0.0.1:{port}", mqtt_port, coap_port, data_dir, database_url, process, log_path
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"otakit exited with {process.returncode}:\n{server.log()}")
        try:
            if httpx.get(server.url + "/openapi.json", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"otakit did not start within {timeout} s:\n{server.log()}")


def postgres_admin_url() -> str | None:
    return os.environ.get(POSTGRES_URL_ENV) or None


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new, empty database on the test PostgreSQL server, dropped afterwards."""
    import asyncio
    import concurrent.futures

    import asyncpg

    admin_url = postgres_admin_url()
    assert admin_url, f"{POSTGRES_URL_ENV} is not set"
    name = "otakit_test_" + uuid.uuid4().hex[:12]

    async def execute(statement: str) -> None:
        connection = await asyncpg.connect(admin_url)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    def run(statement: str) -> None:
        # In a thread of its own: the browser tests' Playwright keeps an event loop running in
        # the main thread, where asyncio.run() refuses to start another.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, execute(statement)).result()

    run(f'CREATE DATABASE "{name}"')
    try:
        yield re.sub(r"/[^/]*$", "/" + name, admin_url)
    finally:
        # A server process may still be letting go of its connections: try a few times.
        for attempt in range(10):
            try:
                run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                break
            except asyncpg.PostgresError:
                if attempt == 9:
                    raise
                time.sleep(0.5)
