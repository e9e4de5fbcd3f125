"""The reference client against the real server, on all three transports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TenantContext
from tests.support.devices import Provisioned, announce_package, provision
from tests.support.ota import initiated, states, wait_for
from tests.support.process import ServerProcess

IMAGE = os.urandom(150_000)
PROTOCOLS = ["mqtt", "http", "coap"]


def device_args(
    server: ServerProcess, token: str, protocol: str, state_dir: Path, chunk: int = 8192
) -> list[str]:
    http_port = server.url.rsplit(":", 1)[1]
    return [
        sys.executable,
        "-m",
        "otaclient.device",
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
        str(chunk),
        "--state-dir",
        str(state_dir),
        "--timeout",
        "90",
    ]


def run_device(*args: str) -> tuple[int, list[dict[str, Any]]]:
    result = subprocess.run(list(args), capture_output=True, text=True, timeout=150)
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return result.returncode, events


def installed(state_dir: Path) -> bytes:
    pointer = json.loads((state_dir / "slots" / "current.json").read_text())
    return (state_dir / "slots" / pointer["slot"]).read_bytes()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_update_ends_in_updated_with_the_package_installed(
    server: ServerProcess, tenant: TenantContext, tmp_path: Path, protocol: str
) -> None:
    p = provision(tenant, IMAGE, announce=True)
    code, events = run_device(*device_args(server, p.token, protocol, tmp_path))
    assert code == 0, events
    assert installed(tmp_path) == IMAGE
    reported = [value for _, value in states(tenant, p.device_id)]
    assert reported[-5:] == ["DOWNLOADING", "DOWNLOADED", "VERIFIED", "UPDATING", "UPDATED"]
    current = tenant.api.get(
        f"/api/plugins/telemetry/DEVICE/{p.device_id}/values/timeseries",
        params={"keys": "current_fw_title,current_fw_version"},
    )
    assert current["current_fw_title"][0]["value"] == p.title
    assert current["current_fw_version"][0]["value"] == p.version
    assert events[-1]["fetched"] == len(IMAGE)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_bad_checksum_fails_and_installs_nothing(
    server: ServerProcess, tenant: TenantContext, tmp_path: Path, protocol: str
) -> None:
    p = provision(tenant, IMAGE, announce=True)
    # After the queue has told the device (else it would write the right checksum back).
    wait_for(lambda: bool(initiated(tenant, p.device_id)), 30)
    tenant.api.post(
        f"/api/plugins/telemetry/DEVICE/{p.device_id}/SHARED_SCOPE", {"fw_checksum": "0" * 64}
    )
    code, events = run_device(*device_args(server, p.token, protocol, tmp_path))
    assert code == 1 and events[-1]["state"] == "FAILED"
    assert not (tmp_path / "slots" / "current.json").exists()
    assert not (tmp_path / "partial.bin").exists()
    errors = states(tenant, p.device_id, "fw_error")
    assert "checksum mismatch" in errors[-1][1]
    assert states(tenant, p.device_id)[-1][1] == "FAILED"


def test_software_updates_alike(
    server: ServerProcess, tenant: TenantContext, tmp_path: Path
) -> None:
    p = provision(tenant, IMAGE[:20_000], "SOFTWARE", announce=True)
    code, _ = run_device(*device_args(server, p.token, "mqtt", tmp_path), "--kind", "sw")
    assert code == 0 and installed(tmp_path) == IMAGE[:20_000]
    assert states(tenant, p.device_id, "sw_state")[-1][1] == "UPDATED"


def test_an_updated_device_does_nothing_more(
    server: ServerProcess, tenant: TenantContext, tmp_path: Path
) -> None:
    p: Provisioned = provision(tenant, IMAGE[:10_000], announce=True)
    assert run_device(*device_args(server, p.token, "http", tmp_path))[0] == 0
    announce_package(tenant, p)  # the same package again
    code, events = run_device(*device_args(server, p.token, "http", tmp_path), "--timeout", "3")
    assert [e.get("state") for e in events if "state" in e] == ["IDLE"]
    assert code == 1  # it never reached UPDATED in this run: there was nothing to do
