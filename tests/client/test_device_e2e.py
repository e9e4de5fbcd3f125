"""`otakit device` against the real server, on all three transports, in the base install's Python.

Every device here runs in a Python that has only what README's plain install brings
(tests/client/base_install.py), so these tests also show that it needs no extra.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.client.base_install import closure, main_requirements, otakit, python
from tests.conftest import TenantContext
from tests.support.api import entity_id
from tests.support.devices import Provisioned, announce_package, provision
from tests.support.ota import initiated, states, wait_for
from tests.support.process import ServerProcess

IMAGE = os.urandom(150_000)
PROTOCOLS = ["mqtt", "http", "coap"]
STATES = ["DOWNLOADING", "DOWNLOADED", "VERIFIED", "UPDATING", "UPDATED"]
# From the UPDATED line to the process's end: no idle poll (HTTP's is 20 s) in between.
EXIT_AFTER_UPDATED_MS = 2000


def device_args(
    server: ServerProcess, token: str, protocol: str, state_dir: Path, chunk: int = 8192
) -> list[str]:
    http_port = server.url.rsplit(":", 1)[1]
    return [
        *otakit(),
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
        str(chunk),
        "--state-dir",
        str(state_dir),
        "--timeout",
        "90",
    ]


def run_device(*args: str) -> tuple[int, list[dict[str, Any]]]:
    code, events, _ = timed_device(*args)
    return code, events


def timed_device(*args: str) -> tuple[int, list[dict[str, Any]], int]:
    """Runs a device; its exit code, its JSON lines, and the wall clock (ms) when it ended."""
    result = subprocess.run(list(args), capture_output=True, text=True, timeout=150)
    ended = int(time.time() * 1000)
    assert "Traceback" not in result.stderr, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(events) == len(result.stdout.splitlines()), "stdout holds only JSON lines"
    return result.returncode, events, ended


def test_the_base_install_has_what_otakit_device_needs() -> None:
    base = closure(main_requirements())
    assert "httpx" in base and "aiocoap" in base  # its HTTP and CoAP links; MQTT is otamqtt's
    assert "hypothesis" not in base and "pytest" not in base  # the extras' packages stay out
    probe = (
        "import otasim.device_cli\ntry:\n import hypothesis\nexcept ImportError: print('isolated')"
    )
    imported = subprocess.run(
        python(probe),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (imported.returncode, imported.stdout.strip()) == (0, "isolated"), imported.stderr


def installed(state_dir: Path) -> bytes:
    pointer = json.loads((state_dir / "slots" / "current.json").read_text())
    return (state_dir / "slots" / pointer["slot"]).read_bytes()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_update_ends_in_updated_with_the_package_installed(
    server: ServerProcess, tenant: TenantContext, tmp_path: Path, protocol: str
) -> None:
    p = provision(tenant, IMAGE, announce=True)
    code, events, ended = timed_device(*device_args(server, p.token, protocol, tmp_path))
    assert code == 0, events
    # One line per state, each naming the package and when.
    assert [e["state"] for e in events] == STATES
    for event in events:
        assert (event["title"], event["version"]) == (p.title, p.version)
        assert isinstance(event["ts"], int)
    assert [e["ts"] for e in events] == sorted(e["ts"] for e in events)
    assert ended - events[-1]["ts"] < EXIT_AFTER_UPDATED_MS
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
    code, events, ended = timed_device(*device_args(server, p.token, protocol, tmp_path))
    assert code == 1 and [e["state"] for e in events] == ["DOWNLOADING", "DOWNLOADED", "FAILED"]
    assert "checksum mismatch" in events[-1]["error"]
    assert ended - events[-1]["ts"] < EXIT_AFTER_UPDATED_MS
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


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_an_up_to_date_device_says_so_and_exits_at_once(
    server: ServerProcess, tenant: TenantContext, tmp_path: Path, protocol: str
) -> None:
    p: Provisioned = provision(tenant, IMAGE[:10_000], announce=True)
    assert run_device(*device_args(server, p.token, protocol, tmp_path))[0] == 0
    announce_package(tenant, p)  # the same package again
    started = time.monotonic()
    code, events = run_device(*device_args(server, p.token, protocol, tmp_path))
    assert time.monotonic() - started < 10  # it does not wait for an update (a poll is 20 s)
    assert code == 0
    assert [(e["event"], e["title"], e["version"]) for e in events] == [
        ("up to date", p.title, p.version)
    ]
    assert "already runs the assigned package" in events[0]["message"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_device_with_nothing_assigned_says_so_and_exits(
    server: ServerProcess, tenant: TenantContext, tmp_path: Path, protocol: str
) -> None:
    token = "bare-" + os.urandom(6).hex()
    tenant.api.create_device(token, tenant.default_profile_id, token=token)
    started = time.monotonic()
    code, events = run_device(*device_args(server, token, protocol, tmp_path))
    assert time.monotonic() - started < 10
    assert code == 0
    assert [(e["event"], e["title"], e["version"]) for e in events] == [
        ("nothing assigned", "Initial", "v0")
    ]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_with_wait_a_device_waits_for_its_assignment(
    server: ServerProcess, tenant: TenantContext, tmp_path: Path, protocol: str
) -> None:
    token = "waiting-" + os.urandom(6).hex()
    device = tenant.api.create_device(token, tenant.default_profile_id, token=token)
    process = subprocess.Popen(
        [*device_args(server, token, protocol, tmp_path), "--wait"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        told = json.loads(process.stdout.readline())  # within the device's --timeout
        assert told["event"] == "nothing assigned"
        time.sleep(0.5)  # the long poll, the subscription or the next CoAP poll is waiting
        package = tenant.api.create_package(
            tenant.default_profile_id, "waited-" + token, "1.0", "FIRMWARE"
        )
        package = tenant.api.upload(package["id"]["id"], IMAGE[:30_000], "SHA256")
        current = tenant.api.get(f"/api/device/{device['id']['id']}")
        firmware = entity_id("OTA_PACKAGE", package["id"]["id"])
        tenant.api.post("/api/device", {**current, "firmwareId": firmware})
        out, _ = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    events = [json.loads(line) for line in out.splitlines()]
    assert process.returncode == 0, events
    assert [e["state"] for e in events] == STATES
    assert installed(tmp_path) == IMAGE[:30_000]


def test_with_forever_a_device_stays_for_the_next_update(
    server: ServerProcess, tenant: TenantContext, tmp_path: Path
) -> None:
    p = provision(tenant, IMAGE[:20_000], announce=True)
    process = subprocess.Popen(
        [*device_args(server, p.token, "http", tmp_path), "--forever"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = [json.loads(process.stdout.readline()) for _ in STATES]
        assert [e["state"] for e in first] == STATES
        assert process.poll() is None  # still there after UPDATED
        package = tenant.api.create_package(
            tenant.default_profile_id, "next-" + p.token, "2.0", "FIRMWARE"
        )
        package = tenant.api.upload(package["id"]["id"], IMAGE[:30_000], "SHA256")
        current = tenant.api.get(f"/api/device/{p.device_id}")
        firmware = entity_id("OTA_PACKAGE", package["id"]["id"])
        tenant.api.post("/api/device", {**current, "firmwareId": firmware})
        second = [json.loads(process.stdout.readline()) for _ in STATES]
    finally:
        process.kill()
        process.communicate()  # closes its stdout
    assert [(e["state"], e["version"]) for e in second] == [(s, "2.0") for s in STATES]
    assert installed(tmp_path) == IMAGE[:30_000]
