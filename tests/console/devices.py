"""Devices for the dashboard's browser tests: fleets on a profile, reports through the device
API, real `otakit device` processes, and the dashboard as the browser shows it."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import TenantContext
from tests.support.api import entity_id
from tests.support.process import ServerProcess

PASSWORD = "tenant-password"  # tests.conftest.create_tenant's
IMAGE = bytes(range(256)) * 80  # 20 KiB


@dataclass
class Fleet:
    profile: dict[str, Any]
    package: dict[str, Any]
    devices: list[dict[str, Any]]
    tokens: list[str]

    @property
    def profile_id(self) -> str:
        return str(self.profile["id"]["id"])

    @property
    def names(self) -> list[str]:
        return [str(d["name"]) for d in self.devices]

    @property
    def ids(self) -> list[str]:
        return [str(d["id"]["id"]) for d in self.devices]


def make_fleet(tenant: TenantContext, count: int, name: str = "fleet") -> Fleet:
    """`count` devices on a new profile, and an uploaded package for it, not yet assigned."""
    suffix = uuid.uuid4().hex[:6]
    profile = tenant.api.create_profile(f"{name}-{suffix}")
    package = tenant.api.create_package(profile["id"]["id"], f"{name}-fw-{suffix}", "2.0")
    package = tenant.api.upload(package["id"]["id"], IMAGE)
    tokens = [f"{name}-{suffix}-{i}" for i in range(count)]
    devices = [
        tenant.api.create_device(f"{name}-{suffix}-dev{i}", profile["id"]["id"], token=token)
        for i, token in enumerate(tokens)
    ]
    return Fleet(profile, package, devices, tokens)


def assign(tenant: TenantContext, fleet: Fleet) -> None:
    """The fleet's package becomes its profile's firmware: every device gets it."""
    profile = tenant.api.get(f"/api/deviceProfile/{fleet.profile_id}")
    tenant.api.post(
        "/api/deviceProfile",
        {**profile, "firmwareId": entity_id("OTA_PACKAGE", fleet.package["id"]["id"])},
    )


def report(url: str, token: str, values: dict[str, Any]) -> None:
    """A device's telemetry through the HTTP device API."""
    response = httpx.post(f"{url}/api/v1/{token}/telemetry", json=values, timeout=10)
    assert response.status_code == 200, response.text
    time.sleep(0.02)  # each report its own millisecond


def status_of(tenant: TenantContext, device_id: str) -> str | None:
    found = tenant.api.get(
        f"/api/plugins/telemetry/DEVICE/{device_id}/values/timeseries", params={"keys": "fw_state"}
    )
    points = found.get("fw_state") or []
    return str(points[0]["value"]) if points else None


@contextmanager
def running_devices(
    server: ServerProcess, tokens: list[str], state_root: Path, protocol: str = "mqtt"
) -> Iterator[list[subprocess.Popen[str]]]:
    """One `otakit device --wait` process per token, updating itself once notified."""
    http_port = server.url.rsplit(":", 1)[1]
    processes = []
    for token in tokens:
        args = [
            sys.executable,
            "-c",
            "import sys; from otaserver.cli import main; sys.exit(main())",
            "device",
            "--server",
            "127.0.0.1",
            "--token",
            token,
            "--protocol",
            protocol,
            "--http-port",
            http_port,
            "--mqtt-port",
            str(server.mqtt_port),
            "--coap-port",
            str(server.coap_port),
            "--chunk-size",
            "4096",
            "--chunk-delay-ms",
            "50",
            "--state-dir",
            str(state_root / token),
            "--wait",
            "--timeout",
            "90",
        ]
        processes.append(
            subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        )
    try:
        yield processes
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
            _, err = process.communicate(timeout=30)
            assert "Traceback" not in err, err
