"""The pytest plugin of the suite: options naming the target, fixtures, a summary per area."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .target import Target, login

AREAS = {
    "test_packages": "REST package lifecycle and rules",
    "test_checksums": "Checksum text (7 algorithms)",
    "test_assignment": "Assignment and the effective package",
    "test_queue": "QUEUED, INITIATED and the pace",
    "test_attributes": "Attribute pushes, requests, deletions",
    "test_chunks": "Chunked downloads (HTTP, MQTT, CoAP)",
    "test_errors": "Errors",
    "test_isolation": "Isolation of devices and tenants",
    "test_statuses": "Status reporting and history",
    "test_model": "Stateful model of the rules",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("otaconformance", "the OTA server under test")
    group.addoption("--server-url", help="REST and HTTP device API, e.g. http://host:8080")
    group.addoption("--mqtt", default=None, help="MQTT host:port (default: the URL's host:1883)")
    group.addoption("--coap", default=None, help="CoAP host:port (default: the URL's host:5683)")
    group.addoption("--username", default="tenant@thingsboard.org", help="a tenant administrator")
    group.addoption("--password", default="tenant")
    group.addoption(
        "--sysadmin-username",
        default=None,
        help="a system administrator, for the checks between tenants",
    )
    group.addoption("--sysadmin-password", default=None)
    group.addoption("--pack-size", type=int, default=100, help="the target's pack size")
    group.addoption(
        "--pack-interval-ms", type=int, default=60000, help="the target's pack interval"
    )
    group.addoption(
        "--mqtt-max-chunk", type=int, default=65536, help="the largest MQTT chunk the target serves"
    )
    group.addoption(
        "--notify-timeout",
        type=float,
        default=120.0,
        help="seconds to wait for the queue to notify a device",
    )
    group.addoption(
        "--start-local", action="store_true", help="start otakit's own server for the run"
    )
    group.addoption(
        "--local-faults",
        default="",
        help="with --start-local: faults to inject into it (for testing the suite)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "otakit_extension: beyond ThingsBoard; -m 'not otakit_extension' leaves it out"
    )


def _host_port(value: str | None, default_host: str, default_port: int) -> tuple[str, int]:
    if not value:
        return default_host, default_port
    host, _, port = value.rpartition(":")
    return host or default_host, int(port)


def _free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_local(config: pytest.Config) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    """otakit on free ports with a fresh data directory, a sysadmin, and a fast queue."""
    data = Path(tempfile.mkdtemp(prefix="otakit-conformance-"))
    ports = {"http": _free_port(), "mqtt": _free_port(), "coap": _free_port(socket.SOCK_DGRAM)}
    admin = ("conformance-admin@otakit.test", "conformance-admin")
    env = {
        **os.environ,
        "OTAKIT_ADMIN_EMAIL": admin[0],
        "OTAKIT_ADMIN_PASSWORD": admin[1],
        "OTAKIT_LOG_LEVEL": "warning",
        "OTAKIT_INJECT_FAULTS": config.getoption("local_faults"),
        "TB_QUEUE_CORE_OTA_PACK_SIZE": "10",
        "TB_QUEUE_CORE_OTA_PACK_INTERVAL_MS": "1000",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "otaserver.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--http-port",
            str(ports["http"]),
            "--mqtt-port",
            str(ports["mqtt"]),
            "--coap-port",
            str(ports["coap"]),
            "--data-dir",
            str(data),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{ports['http']}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(url + "/openapi.json", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            raise pytest.UsageError("otakit did not start for --start-local")
        time.sleep(0.1)
    tenant_admin = _tenant_admin(url, admin)
    return process, {
        "url": url,
        "mqtt": f"127.0.0.1:{ports['mqtt']}",
        "coap": f"127.0.0.1:{ports['coap']}",
        "admin": admin,
        "tenant_admin": tenant_admin,
        "pack": (10, 1000),
    }


def _tenant_admin(url: str, sysadmin: tuple[str, str]) -> tuple[str, str]:
    """A new tenant with its administrator, through ThingsBoard's activation link."""
    headers = {"X-Authorization": "Bearer " + login(url, *sysadmin)}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
        tenant = http.post("/api/tenant", json={"title": f"conf-{uuid.uuid4().hex[:6]}"}).json()
        email = f"conf-{uuid.uuid4().hex[:8]}@otakit.test"
        user = http.post(
            "/api/user",
            params={"sendActivationMail": "false"},
            json={"email": email, "authority": "TENANT_ADMIN", "tenantId": tenant["id"]},
        ).json()
        link = http.get(f"/api/user/{user['id']['id']}/activationLink").text
        http.post(
            "/api/noauth/activate",
            json={"activateToken": link.split("activateToken=")[1], "password": "conformance"},
        )
    return email, "conformance"


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    config = request.config
    option = config.getoption
    local = None
    if option("start_local"):
        local, settings = _start_local(config)
        url, mqtt, coap = settings["url"], settings["mqtt"], settings["coap"]
        username, password = settings["tenant_admin"]
        sysadmin: tuple[str, str] | None = settings["admin"]
        pack_size, pack_interval = settings["pack"]
        max_chunk = 1024 * 1024
    else:
        url = option("server_url")
        if not url:
            raise pytest.UsageError("give --server-url (or --start-local)")
        mqtt, coap = option("mqtt"), option("coap")
        username, password = option("username"), option("password")
        sysadmin = None
        if option("sysadmin_username"):
            sysadmin = (option("sysadmin_username"), option("sysadmin_password"))
        pack_size, pack_interval = option("pack_size"), option("pack_interval_ms")
        max_chunk = option("mqtt_max_chunk")
    host = re.sub(r"^\w+://([^:/]+).*$", r"\1", url)
    mqtt_host, mqtt_port = _host_port(mqtt, host, 1883)
    coap_host, coap_port = _host_port(coap, host, 5683)
    found = Target(
        url.rstrip("/"),
        mqtt_host,
        mqtt_port,
        coap_host,
        coap_port,
        username,
        password,
        sysadmin,
        pack_size,
        pack_interval,
        max_chunk,
        option("notify_timeout"),
    )
    try:
        yield found
    finally:
        found.close()
        if local is not None:
            local.send_signal(signal.SIGTERM)
            local.wait(15)


@pytest.fixture
def profile(target: Target) -> str:
    return target.profile()


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    outcomes: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    failures: dict[str, list[str]] = defaultdict(list)
    for outcome in ("passed", "failed", "error", "skipped"):
        for report in terminalreporter.stats.get(outcome, []):
            if getattr(report, "when", "call") not in ("call", "setup"):
                continue
            module = Path(str(report.nodeid).split("::")[0]).stem
            area = AREAS.get(module)
            if area is None:
                continue
            outcomes[area][outcome] += 1
            if outcome in ("failed", "error"):
                message = str(getattr(report, "longreprtext", ""))
                found = re.search(r"\[rule [^\]]+\][^\n]*", message)
                failures[area].append(
                    f"{report.nodeid.split('::')[-1]}: "
                    + (found.group(0) if found else message[-200:])
                )
    if not outcomes:
        return
    terminalreporter.section("conformance by area")
    for area in AREAS.values():
        if area in outcomes:
            counts = outcomes[area]
            verdict = "FAIL" if counts["failed"] or counts["error"] else "ok"
            terminalreporter.write_line(
                f"{verdict:4} {area}: {counts['passed']} passed, "
                f"{counts['failed'] + counts['error']} failed, {counts['skipped']} skipped"
            )
            for failure in failures[area]:
                terminalreporter.write_line(f"       {failure}")
