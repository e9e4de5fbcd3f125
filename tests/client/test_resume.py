"""A download cut mid-way resumes where it stopped, on every transport, and on a reboot."""

from __future__ import annotations

import json
import os
import subprocess
import time
from contextlib import ExitStack
from pathlib import Path

import pytest
from otatarget.waiting import wait_until

from tests.client.test_device_e2e import device_args, installed
from tests.conftest import TenantContext, create_tenant, database_for
from tests.support.api import Api
from tests.support.devices import provision
from tests.support.process import ADMIN_EMAIL, ADMIN_PASSWORD, ServerProcess, start_server

IMAGE = os.urandom(200_000)
CHUNK = 4096


def partial_size(state_dir: Path) -> int:
    try:
        return (state_dir / "partial.bin").stat().st_size
    except FileNotFoundError:
        return 0


def wait_partial(state_dir: Path, at_least: int, timeout: float = 60) -> None:
    wait_until(
        lambda: partial_size(state_dir) >= at_least, "the download to get going", timeout, 0.02
    )


def events_of(process: subprocess.Popen[str]) -> list[dict[str, object]]:
    out, _ = process.communicate(timeout=120)
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


@pytest.mark.parametrize("protocol", ["mqtt", "http", "coap"])
def test_a_server_restart_mid_download_costs_no_byte_twice(
    backend: str, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, protocol: str
) -> None:
    with ExitStack() as stack:
        database = database_for(backend, stack)
        data_dir = tmp_path_factory.mktemp("restart")
        server = start_server(data_dir, database)
        stack.callback(lambda: current[0].stop())
        current = [server]
        tenant = create_tenant(Api.login(server.url, ADMIN_EMAIL, ADMIN_PASSWORD))
        p = provision(tenant, IMAGE, announce=True)
        device = subprocess.Popen(
            [*device_args(server, p.token, protocol, tmp_path, CHUNK), "--chunk-delay-ms", "20"],
            stdout=subprocess.PIPE,
            text=True,
        )
        wait_partial(tmp_path, len(IMAGE) // 3)
        server.stop()
        time.sleep(1)
        # The restart fell in the middle of the download: part of the image came after it.
        assert 0 < partial_size(tmp_path) < len(IMAGE)
        current[0] = start_server(data_dir, database, ports=server.ports)
        events = events_of(device)
        assert device.returncode == 0, events
        if protocol != "coap":
            # A TCP connection breaks. CoAP has none: a request left unanswered by the stopping
            # server is sent again 2 to 3 s later (RFC 7252 §4.2), and may reach the new one.
            assert any(e.get("event") == "disconnected" for e in events)
        assert events[-1]["state"] == "UPDATED"
        assert events[-1]["fetched"] == len(IMAGE)  # every byte exactly once
        assert installed(tmp_path) == IMAGE


def test_a_rebooted_device_resumes_from_its_saved_progress(
    server: ServerProcess, tenant: TenantContext, tmp_path: Path
) -> None:
    p = provision(tenant, IMAGE, announce=True)
    args = device_args(server, p.token, "mqtt", tmp_path, CHUNK)
    first = subprocess.Popen([*args, "--chunk-delay-ms", "20"], stdout=subprocess.PIPE, text=True)
    wait_partial(tmp_path, len(IMAGE) // 2)
    first.kill()  # power cut
    first.communicate()
    kept = json.loads((tmp_path / "progress.json").read_text())["received"]
    assert 0 < kept < len(IMAGE)
    second = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    events = events_of(second)
    assert second.returncode == 0 and events[-1]["state"] == "UPDATED"
    assert events[-1]["fetched"] == len(IMAGE) - kept
    assert installed(tmp_path) == IMAGE
