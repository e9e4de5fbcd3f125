"""`--start-local`: otakit's own server, started for one run of the suite.

It runs as a separate process (`python -m otaserver.cli serve`), reached only through its ports,
so the suite still never imports the server.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from .target import OTAKIT_MQTT_MAX_CHUNK, new_tenant_admin

# A fast pace, so that the pace itself is checked within seconds.
PACK_SIZE, PACK_INTERVAL_MS = 10, 1000
MQTT_MAX_CHUNK = OTAKIT_MQTT_MAX_CHUNK  # the server starts with its default
SYSADMIN = ("conformance-admin@otakit.test", "conformance-admin")
START_TIMEOUT = 60


@dataclass
class LocalServer:
    process: subprocess.Popen[bytes]
    log: Path
    url: str
    mqtt: str
    coap: str
    sysadmin: tuple[str, str] = SYSADMIN
    tenant_admin: tuple[str, str] = field(default=("", ""))

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(faults: str = "", database_url: str = "") -> LocalServer:
    """otakit on free ports with a fresh data directory, a fast queue, and a tenant of its own."""
    data = Path(tempfile.mkdtemp(prefix="otakit-conformance-"))
    http, mqtt, coap = _free_port(), _free_port(), _free_port(socket.SOCK_DGRAM)
    env = {
        # The server reads OTAKIT_* settings: only the ones given here count.
        **{k: v for k, v in os.environ.items() if not k.startswith("OTAKIT_")},
        "OTAKIT_ADMIN_EMAIL": SYSADMIN[0],
        "OTAKIT_ADMIN_PASSWORD": SYSADMIN[1],
        "OTAKIT_LOG_LEVEL": "warning",
        "OTAKIT_INJECT_FAULTS": faults,
        "OTAKIT_DATABASE_URL": database_url,
        "OTAKIT_QUEUE_PACK_SIZE": str(PACK_SIZE),
        "OTAKIT_QUEUE_PACK_INTERVAL_MS": str(PACK_INTERVAL_MS),
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
        process, log, f"http://127.0.0.1:{http}", f"127.0.0.1:{mqtt}", f"127.0.0.1:{coap}"
    )
    _wait_until_up(server)
    server.tenant_admin = new_tenant_admin(server.url, SYSADMIN, "conf")
    return server


def _wait_until_up(server: LocalServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            if httpx.get(server.url + "/openapi.json", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or server.process.poll() is not None:
            server.stop()
            tail = server.log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"otakit did not start for --start-local; its log:\n{tail}")
        time.sleep(0.1)
