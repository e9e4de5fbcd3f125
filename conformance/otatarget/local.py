"""otakit started for one run, as a separate process reached only through its ports.

`python -m otaserver.cli serve` on free ports, with a fresh data directory, a system administrator
of its own and the OTAKIT_* settings the caller gives (and no others from the environment), so
that a run of the suite or the simulator never depends on the shell it was started from.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx

from .rest import new_tenant_admin

SYSADMIN = ("local-admin@otakit.test", "local-admin-password")
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
SETTING_PREFIX = "OTAKIT_"


@dataclass
class LocalServer:
    process: subprocess.Popen[bytes]
    data_dir: Path
    log: Path
    url: str
    mqtt: str  # host:port
    coap: str  # host:port
    sysadmin: tuple[str, str] = SYSADMIN
    tenant_admin: tuple[str, str] = field(default=("", ""))

    def stop(self) -> None:
        """SIGTERM, and a kill when it has not stopped in STOP_TIMEOUT seconds."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log_tail(self, size: int = 2000) -> str:
        return self.log.read_text(errors="replace")[-size:]

    def __enter__(self) -> LocalServer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(
    settings: Mapping[str, str] | None = None,
    name: str = "local",
    timeout: float = START_TIMEOUT,
) -> LocalServer:
    """otakit on free ports with `settings` (OTAKIT_* environment variables: pack size and
    interval, injected faults, database URL, stuck timeouts...) and a tenant administrator of its
    own; `name` prefixes its data directory and its tenant."""
    given = dict(settings or {})
    foreign = sorted(key for key in given if not key.startswith(SETTING_PREFIX))
    if foreign:
        raise ValueError(f"not otakit settings (they start with {SETTING_PREFIX}): {foreign}")
    data = Path(tempfile.mkdtemp(prefix=f"otakit-{name}-"))
    http, mqtt, coap = free_port(), free_port(), free_port(socket.SOCK_DGRAM)
    env = {
        # The server reads OTAKIT_* settings: only the ones given here count.
        **{k: v for k, v in os.environ.items() if not k.startswith(SETTING_PREFIX)},
        "OTAKIT_ADMIN_EMAIL": SYSADMIN[0],
        "OTAKIT_ADMIN_PASSWORD": SYSADMIN[1],
        "OTAKIT_LOG_LEVEL": "warning",
        **given,
    }
    log = data / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "otaserver.cli", "serve", "--host", "127.0.0.1"),
                *("--http-port", str(http), "--mqtt-port", str(mqtt), "--coap-port", str(coap)),
                *("--data-dir", str(data)),
            ],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    server = LocalServer(
        process, data, log, f"http://127.0.0.1:{http}", f"127.0.0.1:{mqtt}", f"127.0.0.1:{coap}"
    )
    try:
        _wait_until_up(server, timeout)
        server.tenant_admin = new_tenant_admin(server.url, SYSADMIN, name)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_until_up(server: LocalServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(server.url + "/openapi.json", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or server.process.poll() is not None:
            raise RuntimeError(f"otakit did not start; its log:\n{server.log_tail()}")
        time.sleep(0.1)
