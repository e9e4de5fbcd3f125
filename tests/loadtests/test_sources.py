"""The load tests aimed at a server by URL and credentials, as at any ThingsBoard-compatible one:
the devices an operator made already, their tokens read from the REST API or from a CSV file."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from otatarget import local, rest
from tests.loadtests.locust_run import ALL_DEVICES, run_locust

PER_TRANSPORT = 3
DEVICES = PER_TRANSPORT * len(ALL_DEVICES)

pytestmark = pytest.mark.xdist_group("fleet")


@pytest.fixture(scope="module")
def server() -> Iterator[local.LocalServer]:
    settings = {"OTAKIT_QUEUE_PACK_SIZE": "100", "OTAKIT_QUEUE_PACK_INTERVAL_MS": "500"}
    with local.start(settings, "otaload-sources") as started:
        yield started


def operators_fleet(server: local.LocalServer) -> tuple[str, list[tuple[str, str]]]:
    """A profile and its devices, made as an operator makes them: its name, [(name, token)]."""
    name = f"fleet-{uuid.uuid4().hex[:6]}"
    made = []
    with rest.client(server.url, *server.tenant_admin) as http:
        profile = rest.call(http, "POST", "/api/deviceProfile", json=rest.profile_body(name))
        for i in range(DEVICES):
            body = {"name": f"{name}-{i}", "deviceProfileId": profile["id"]}
            device = rest.call(http, "POST", "/api/device", json=body)
            credentials = rest.call(http, "GET", f"/api/device/{device['id']['id']}/credentials")
            made.append((body["name"], str(credentials["credentialsId"])))
    return name, made


def campaign(server: local.LocalServer, tmp_path: Path, *source: str) -> None:
    """A campaign on the server by URL (no --start-local): every device updates."""
    mqtt_port = server.mqtt.rsplit(":", 1)[1]
    coap_port = server.coap.rsplit(":", 1)[1]
    run = run_locust(
        [
            *("--host", server.url, "--mqtt-port", mqtt_port, "--coap-port", coap_port),
            *("--username", server.tenant_admin[0], "--password", server.tenant_admin[1]),
            *source,
            *("-u", str(DEVICES + 1), "-r", str(DEVICES + 1), "-t", "60s", "--settle-s", "0.5"),
            *("--tags", "campaign", "--stop-when-done", "--expect-updated"),
            *ALL_DEVICES,
            "Operator",
        ],
        tmp_path,
    )
    assert run.returncode == 0, "\n".join(run.verdict()) or run.output[-4000:]
    for transport in ("MQTT", "MQTT5", "HTTP", "CoAP"):
        assert run.count(transport, "updated") == PER_TRANSPORT, transport
        assert run.count(transport, "verified") == PER_TRANSPORT, transport


def test_tokens_from_the_rest_api(server: local.LocalServer, tmp_path: Path) -> None:
    """And the MQTT and CoAP devices' sockets bound to two local addresses in turn."""
    profile, _ = operators_fleet(server)
    sources = ("--source-addresses", "127.0.0.2,127.0.0.3")
    campaign(server, tmp_path, "--device-profile", profile, *sources)


def test_tokens_from_a_csv_file(server: local.LocalServer, tmp_path: Path) -> None:
    profile, devices = operators_fleet(server)
    tokens = tmp_path / "tokens.csv"
    tokens.write_text("name,token\n" + "".join(f"{n},{t}\n" for n, t in devices))
    campaign(server, tmp_path, "--tokens-csv", str(tokens), "--device-profile", profile)


def test_a_bad_tokens_file_is_refused_with_its_line(
    server: local.LocalServer, tmp_path: Path
) -> None:
    tokens = tmp_path / "tokens.csv"
    tokens.write_text("name,token\nonly-a-name\n")
    run = run_locust(
        [
            *("--host", server.url, "--username", server.tenant_admin[0]),
            *("--password", server.tenant_admin[1], "--tokens-csv", str(tokens)),
            *("-u", "2", "-t", "20s", "--tags", "campaign", "MqttDevice", "Operator"),
        ],
        tmp_path,
        timeout=60,
    )
    assert run.returncode == 2, run.output[-3000:]
    assert "cannot prepare the fleet" in run.output
    assert "line 2: expected a name and a token" in run.output


def test_otakit_loadtest_is_locust_with_the_locustfile_and_its_options() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "otaserver.cli", "loadtest", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage: locust"), done.stdout[:200]
    for option in ("--start-local", "--max-percentile TYPE:NAME:PERCENT:MS", "--tokens-csv"):
        assert option in done.stdout, option
    listed = subprocess.run(
        [sys.executable, "-m", "otaserver.cli", "loadtest", "--list"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert set(listed.stdout.split()) >= {"MqttDevice", "Mqtt5Device", "HttpDevice", "CoapDevice"}
