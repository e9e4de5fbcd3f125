"""ThingsBoard's own device SDK (PyPI tb-mqtt-client), unmodified, performs a firmware update.

Its bundled paho fork clashes with paho-mqtt, so it lives in a virtual environment of its own
and runs the small drivers in tb_sdk/ as subprocesses.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TenantContext
from tests.support.devices import provision
from tests.support.process import ServerProcess

DRIVERS = Path(__file__).parent / "tb_sdk"
IMAGE = os.urandom(50_000)
DEVICE_STATE_ORDER = ["IDLE", "DOWNLOADING", "DOWNLOADED", "VERIFIED", "UPDATING", "UPDATED"]


@pytest.fixture(scope="session")
def sdk_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("tb-sdk") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    # mmh3 up front: the SDK otherwise pip-installs it at import time.
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "tb-mqtt-client>=1.13", "mmh3"],
        check=True,
        timeout=900,
    )
    return venv / "bin" / "python"


def run_driver(
    sdk_python: Path, driver: str, port: int, token: str, chunk: int, out_dir: Path
) -> dict[str, object]:
    result = subprocess.run(
        [
            str(sdk_python),
            str(DRIVERS / driver),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--token",
            token,
            "--chunk-size",
            str(chunk),
            "--out-dir",
            str(out_dir),
            "--timeout",
            "90",
        ],
        capture_output=True,
        text=True,
        timeout=150,
    )
    assert result.returncode == 0, (result.stdout, result.stderr[-3000:])
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def reported_states(tenant: TenantContext, device_id: str) -> list[str]:
    history = tenant.api.get(
        f"/api/plugins/telemetry/DEVICE/{device_id}/values/timeseries",
        params={"keys": "fw_state", "startTs": 0, "endTs": 4_000_000_000_000, "orderBy": "ASC"},
    )
    return [point["value"] for point in history.get("fw_state", [])]


@pytest.mark.parametrize(
    ("driver", "chunk"), [("drive_mqtt.py", 4096), ("drive_mqtt.py", 0), ("drive_http.py", 1000)]
)
def test_thingsboard_sdk_updates_firmware(
    server: ServerProcess,
    tenant: TenantContext,
    sdk_python: Path,
    tmp_path: Path,
    driver: str,
    chunk: int,
) -> None:
    p = provision(tenant, IMAGE, announce=True)
    port = server.mqtt_port if driver == "drive_mqtt.py" else int(server.url.rsplit(":", 1)[1])
    outcome = run_driver(sdk_python, driver, port, p.token, chunk, tmp_path)
    assert outcome["state"] == "UPDATED"
    assert Path(str(outcome["file"])).read_bytes() == IMAGE
    states = reported_states(tenant, p.device_id)
    assert states[:2] == ["QUEUED", "INITIATED"] and states[-1] == "UPDATED"
    # Every state the SDK posted is kept, in the SDK's order. Which states those are depends on
    # the SDK's timing: its HTTP client queues a reference to one dict it keeps mutating, so a
    # post its worker sends late carries a later state (seen in CI: DOWNLOADING never sent).
    device_reports = states[2:]
    ranks = [DEVICE_STATE_ORDER.index(state) for state in device_reports]
    assert len(device_reports) >= 4 and ranks == sorted(ranks), states
    current = tenant.api.get(
        f"/api/plugins/telemetry/DEVICE/{p.device_id}/values/timeseries",
        params={"keys": "current_fw_title,current_fw_version"},
    )
    assert current["current_fw_title"][0]["value"] == p.title
    assert current["current_fw_version"][0]["value"] == p.version
