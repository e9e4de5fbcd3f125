"""Debian's command-line clients against the device APIs: mosquitto's and libcoap's."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import TenantContext
from tests.support.devices import provision
from tests.support.process import ServerProcess

DATA = bytes(range(256)) * 40


def tool(*names: str) -> str:
    for name in names:
        if path := shutil.which(name):
            return path
    pytest.fail(f"none of {names} is installed (.ci/run installs mosquitto-clients, libcoap3-bin)")


def test_mosquitto_rr_fetches_a_chunk(server: ServerProcess, tenant: TenantContext) -> None:
    p = provision(tenant, DATA)
    result = subprocess.run(
        [
            tool("mosquitto_rr"),
            "-h",
            "127.0.0.1",
            "-p",
            str(server.mqtt_port),
            "-u",
            p.token,
            "-t",
            "v2/fw/request/1/chunk/1",
            "-e",
            "v2/fw/response/1/chunk/1",
            "-m",
            "100",
            "-W",
            "10",
            "-N",
        ],
        capture_output=True,
        timeout=30,
        check=True,
    )
    assert result.stdout == DATA[100:200]


def test_mosquitto_pub_and_sub(server: ServerProcess, tenant: TenantContext) -> None:
    p = provision(tenant, DATA)
    common = ["-h", "127.0.0.1", "-p", str(server.mqtt_port), "-u", p.token]
    subprocess.run(
        [
            tool("mosquitto_pub"),
            *common,
            "-t",
            "v1/devices/me/telemetry",
            "-m",
            '{"fw_state":"DOWNLOADING"}',
            "-q",
            "1",
        ],
        check=True,
        timeout=30,
    )
    subscriber = subprocess.Popen(
        [tool("mosquitto_sub"), *common, "-t", "v1/devices/me/attributes", "-C", "1", "-W", "20"],
        stdout=subprocess.PIPE,
    )
    try:
        time.sleep(1.0)  # subscribed
        tenant.api.post(
            f"/api/plugins/telemetry/DEVICE/{p.device_id}/SHARED_SCOPE", {"fw_title": "pushed"}
        )
        out, _ = subscriber.communicate(timeout=30)
    finally:
        subscriber.kill()
    assert json.loads(out) == {"fw_title": "pushed"}
    values = tenant.api.get(
        f"/api/plugins/telemetry/DEVICE/{p.device_id}/values/timeseries",
        params={"keys": "fw_state"},
    )
    assert values["fw_state"][0]["value"] == "DOWNLOADING"


def test_coap_client_fetches_a_chunk(
    server: ServerProcess, tenant: TenantContext, tmp_path: Path
) -> None:
    p = provision(tenant, DATA)
    out = tmp_path / "chunk.bin"
    subprocess.run(
        [
            tool("coap-client", "coap-client-notls", "coap-client-openssl"),
            "-m",
            "get",
            f"coap://127.0.0.1:{server.coap_port}/fw/{p.token}?size=100&chunk=1",
            "-o",
            str(out),
        ],
        check=True,
        timeout=30,
    )
    assert out.read_bytes() == DATA[100:200]
    whole = tmp_path / "whole.bin"
    subprocess.run(
        [
            tool("coap-client", "coap-client-notls", "coap-client-openssl"),
            "-m",
            "get",
            f"coap://127.0.0.1:{server.coap_port}/fw/{p.token}",
            "-o",
            str(whole),
        ],
        check=True,
        timeout=30,
    )
    assert whole.read_bytes() == DATA  # blockwise over ten 1024-byte blocks
