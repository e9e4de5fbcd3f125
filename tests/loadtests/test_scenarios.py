"""Each scenario of loadtests/ run headless by Locust against a real otakit (--start-local), with
a few hundred device users over MQTT 3.1.1, MQTT 5, HTTP and CoAP; the verdict is read from
Locust's own CSV output, and a server with an injected fault fails the run."""

from __future__ import annotations

from pathlib import Path

import pytest
from otaload.waves import wave_users

from tests.loadtests.locust_run import ALL_DEVICES, LocustRun, run_locust

PER_TRANSPORT = 50
TRANSPORTS = ("MQTT", "MQTT5", "HTTP", "CoAP")
USERS = PER_TRANSPORT * len(TRANSPORTS) + 1  # and the operator
# The server notifies 50 devices a second: a campaign of 200 has to wait for its pace. Arrivals
# judge it: a pack's pushes may take up to 300 ms to all arrive on this loaded machine.
PACE = ["--pack-size", "50", "--pack-interval-ms", "1000", "--pace-tolerance-ms", "300"]
COMMON = [
    "--start-local",
    *("-u", str(USERS), "-r", str(USERS), "-t", "120s"),
    *("--settle-s", "1", "--stop-when-done", "--expect-updated", "--check-pace"),
    *PACE,
]

pytestmark = pytest.mark.xdist_group("fleet")


def scenario(tmp_path: Path, tag: str, *extra: str) -> LocustRun:
    run = run_locust([*COMMON, "--tags", tag, *extra, *ALL_DEVICES, "Operator"], tmp_path)
    assert run.returncode == 0, "\n".join(run.verdict()) or run.output[-6000:]
    assert run.failures() == [], run.failures()
    return run


def assert_updated_and_verified(run: LocustRun, per_transport: int) -> None:
    """Every device of each transport connected, and as many verified the checksum of the image
    they downloaded (chunk by chunk) as reached UPDATED."""
    for transport in TRANSPORTS:
        assert run.count(transport, "connect") == PER_TRANSPORT, transport
        assert run.count(transport, "updated") == per_transport, transport
        assert run.count(transport, "verified") == per_transport, transport
        assert run.count(transport, "chunk") >= per_transport * 4, transport  # 64 KiB / 16 KiB


def test_campaign_updates_every_device_at_the_servers_pace(tmp_path: Path) -> None:
    run = scenario(tmp_path, "campaign")
    assert_updated_and_verified(run, PER_TRANSPORT)
    stats = run.stats()
    for transport in TRANSPORTS:
        # The waiting devices heard of the package by a push; the latency is a time, in ms. Over
        # MQTT every one did; an HTTP device whose push fell between two long polls, or a CoAP
        # one whose notification was lost, learns of it by asking (every 5 s, 30 s).
        notify = stats[(transport, "notify")]
        pushed = int(notify["Request Count"])
        assert pushed == PER_TRANSPORT if transport.startswith("MQTT") else pushed > 0, transport
        assert 0 < float(notify["Average Response Time"]) < 60_000
    # The operator's calls are Locust rows too: upload, assignment, dashboard.
    for row in [
        ("POST", "/api/otaPackage/[id] (upload)"),
        ("POST", "/api/deviceProfile"),
        ("GET", "/api/ota/dashboard/counts"),
    ]:
        assert row in stats, row


def test_reconnect_storm_every_device_drops_and_still_updates(tmp_path: Path) -> None:
    """Every device drops its connection half a second into the downloads and comes back at
    once. (This run found a server bug: a CoAP response lost for good to an ICMP error another
    device's closed port left on the socket; see coap_guard.)"""
    run = scenario(tmp_path, "storm", "--storm-after-s", "0.5")
    assert_updated_and_verified(run, PER_TRANSPORT)
    for transport in TRANSPORTS:
        assert run.count(transport, "reconnect") >= PER_TRANSPORT, transport


def test_steady_fleet_reports_telemetry_while_a_share_updates(tmp_path: Path) -> None:
    run = scenario(tmp_path, "steady", "--updating-fraction", "0.2", "--telemetry-interval-s", "1")
    share = PER_TRANSPORT // 5  # every fifth device of the fleet, spread over the transports
    assert_updated_and_verified(run, share)
    for transport in TRANSPORTS:
        assert run.count(transport, "telemetry") >= PER_TRANSPORT, transport


def test_waves_bring_devices_online_in_steps(tmp_path: Path) -> None:
    run = scenario(tmp_path, "waves", "--wave-count", "3", "--wave-s", "4")
    assert_updated_and_verified(run, PER_TRANSPORT)
    ramps = [line for line in run.output.splitlines() if "Ramping to" in line]
    steps = [wave_users(t, USERS, 3, 4) for t in (0, 4, 8)]
    assert [int(line.split("Ramping to ")[1].split()[0]) for line in ramps][:3] == steps


def test_a_server_fault_fails_the_run(tmp_path: Path) -> None:
    """otakit with CRC32 texts in the wrong byte order: every device's check fails, so does the
    run, and the failures say why."""
    run = run_locust(
        [
            *("--start-local", "-u", "21", "-r", "21", "-t", "60s", "--settle-s", "1"),
            *("--stop-when-done", "--tags", "campaign", *PACE),
            *("--inject-fault", "crc32_big_endian", "--checksum-algorithm", "CRC32"),
            *ALL_DEVICES,
            "Operator",
        ],
        tmp_path,
    )
    assert run.returncode == 1, run.output[-4000:]
    errors = {row["Name"]: row["Error"] for row in run.failures()}
    assert "update" in errors and "checksum: checksum mismatch" in errors["update"], errors
    assert "threshold passed: failure ratio" in run.output
    assert run.count("MQTT", "updated") == 0


def test_pace_and_percentile_thresholds_fail_the_run(tmp_path: Path) -> None:
    """otakit notifying twice its pack size per interval passes --check-pace; a connect p50 of
    at most 0.01 ms cannot be met: the run fails and says both."""
    run = run_locust(
        [
            *("--start-local", "-u", "41", "-r", "41", "-t", "60s", "--settle-s", "1"),
            *("--stop-when-done", "--tags", "campaign", "--check-pace"),
            *("--pack-size", "10", "--pack-interval-ms", "1000"),
            *("--inject-fault", "pack_size_exceeded", "--max-percentile", "MQTT:connect:50:0.01"),
            *ALL_DEVICES,
            "Operator",
        ],
        tmp_path,
    )
    assert run.returncode == 1, run.output[-4000:]
    verdict = "\n".join(run.verdict())
    assert "threshold passed: pace: 20 notifications within" in verdict, verdict
    assert "threshold passed: MQTT connect p50 is" in verdict, verdict
    assert run.count("MQTT", "updated") == 10  # the updates themselves went through
