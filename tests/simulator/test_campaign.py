"""`otakit simulate` against a real otakit it starts (--start-local): whole fleets with every
fault model on every transport, a server with a fault of its own, determinism and replay."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from otasim import admin
from otasim.faults import MODELS, TRANSPORTS
from otasim.trace import read_trace, request_sequences, state_sequences

from otatarget import local
from tests.conftest import database_for
from tests.simulator.test_report_html import assert_plots_render

ALL_FAULTS = ",".join(f"{name}=2%" for name in MODELS if name != "none")
RUN_TIMEOUT = 600
# Whole fleets load both cores: with `--dist loadgroup` (scripts/test.sh) they run one at a time.
pytestmark = pytest.mark.xdist_group("fleet")


def simulate(report: Path, *args: str, database_url: str = "") -> tuple[int, dict[str, Any]]:
    """Runs `otakit simulate --start-local` to its end; its exit code and summary."""
    command = [
        *(sys.executable, "-m", "otaserver.cli", "simulate", "--start-local"),
        *("--report", str(report), "--image-size", "16384", "--stuck-timeout", "20"),
        *("--timeout", "300", *args),
    ]
    if database_url:
        command += ["--database-url", database_url]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=RUN_TIMEOUT, env=dict(os.environ)
    )
    assert result.returncode in (0, 1), result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads((report / "summary.json").read_text())
    # The console's progress bar, full at the end.
    assert re.search(r"\[#{30}\] (\d+)/\1 ended", result.stderr), result.stderr[-2000:]
    printed = json.loads(result.stdout.strip().splitlines()[-1])
    assert printed["ok"] == summary["ok"] and printed["report"] == str(report / "report.html")
    return result.returncode, summary


# SQLite only: this is the simulator's test, and the server's fleets on PostgreSQL are tested in
# tests/server/orchestration (a 500-device run on PostgreSQL took up to 5 of CI's 30 minutes).
@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_fleet_of_500_with_every_fault_on_every_transport_ends_as_predicted(
    backend: str, tmp_path: Path
) -> None:
    with ExitStack() as stack:
        database_url = database_for(backend, stack)
        code, summary = simulate(
            tmp_path / "report",
            *("--devices", "500", "--seed", "11", "--faults", ALL_FAULTS),
            *("--pack-size", "50", "--pack-interval-ms", "1000"),
            database_url=database_url,
        )
    assert summary["mismatches"] == [], summary["mismatches"][:5]
    assert summary["pace"]["violations"] == 0 and summary["pace"]["max_in_window"] <= 50
    assert summary["never_notified"] == [] and summary["notified_twice"] == []
    assert summary["ok"] is True and code == 0
    assert summary["devices"] == 500
    # Each model acted on its 10 devices and they ended as it predicts.
    for name, model in MODELS.items():
        expected = 500 - 10 * (len(MODELS) - 1) if name == "none" else 10
        assert summary["faults"][name] == {model.predicted: expected}, name
    events = read_trace(tmp_path / "report" / "trace.jsonl")
    plans = [e for e in events if e["event"] == "plan"]
    assert Counter(e["transport"] for e in plans).keys() == set(TRANSPORTS)
    acted = Counter(e["model"] for e in events if e["event"] == "fault")
    for name in ("bad_checksum", "disconnect", "reboot", "power_loss", "stall", "offline"):
        assert acted[name] >= 10, (name, acted)
    servers = Counter(e["state"] for e in events if e["event"] == "server")
    assert servers == {"UPDATED": 500 - 20, "FAILED": 20}  # the server recorded each end
    # A healthy download fetches the image once; faults add little.
    assert 1.0 <= summary["bytes"]["ratio"] < 1.1
    assert_plots_render(tmp_path / "report" / "report.html", tmp_path)


def test_a_server_that_notifies_too_fast_fails_the_pace_check(tmp_path: Path) -> None:
    # Twice the pack size per interval; a long interval, so that a loaded machine's jitter
    # cannot spread one oversized pack over two windows.
    code, summary = simulate(
        tmp_path / "report",
        *("--devices", "120", "--seed", "3", "--faults", "none"),
        *("--inject-faults", "pack_size_exceeded", "--transports", "mqtt=1,http=1"),
        *("--pack-size", "30", "--pack-interval-ms", "3000", "--chunk-sizes", "16384=1"),
    )
    assert code == 1 and summary["ok"] is False
    assert summary["pace"]["violations"] > 0 and summary["pace"]["max_in_window"] > 30
    assert summary["mismatches"] == []  # the devices themselves were fine


def test_a_server_that_serves_wrong_bytes_fails_the_devices(tmp_path: Path) -> None:
    code, summary = simulate(
        tmp_path / "report",
        *("--devices", "40", "--seed", "3", "--faults", "none"),
        *("--inject-faults", "chunk_index_as_offset", "--transports", "mqtt=1,http=1,coap=1"),
        *("--pack-size", "10", "--pack-interval-ms", "1000", "--chunk-sizes", "4096=1"),
    )
    assert code == 1 and summary["ok"] is False
    assert summary["mismatches"], summary["final_states"]
    assert all("checksum mismatch" in m["reason"] for m in summary["mismatches"])


def test_the_same_seed_gives_every_device_the_same_states_and_requests_and_replay_too(
    tmp_path: Path,
) -> None:
    args = ("--devices", "60", "--seed", "23", "--faults", ALL_FAULTS.replace("2%", "5%"))
    pace = ("--pack-size", "20", "--pack-interval-ms", "500")
    runs = []
    for name in ("first", "second"):
        code, summary = simulate(tmp_path / name, *args, *pace)
        assert code == 0, summary["mismatches"]
        runs.append(read_trace(tmp_path / name / "trace.jsonl"))
    first, second = runs
    assert state_sequences(first) == state_sequences(second)
    assert request_sequences(first) == request_sequences(second)
    assert len(state_sequences(first)) == 60
    # One device with a disconnect, rerun alone from the trace: the same sequences.
    device = next(e["device"] for e in first if e.get("fault") == "disconnect")
    result = subprocess.run(
        [
            *(sys.executable, "-m", "otaserver.cli", "simulate", "--start-local"),
            *("--replay", device, "--trace", str(tmp_path / "first" / "trace.jsonl")),
            *("--report", str(tmp_path / "replay"), *pace),
        ],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert f"{device} states: the same" in result.stdout
    assert f"{device} requests: the same" in result.stdout
    replayed = read_trace(tmp_path / "replay" / f"replay-{device}.jsonl")
    assert state_sequences(replayed)[device] == state_sequences(first)[device]
    assert any(e["event"] == "fault" and e["model"] == "disconnect" for e in replayed)


def test_bad_arguments_get_a_clear_error_and_exit_2(tmp_path: Path) -> None:
    for args, message in (
        (("--faults", "gremlins=5%"), "not MODEL=SHARE"),
        (("--shard", "3/2"), "--shard"),
        (("--devices", "0"), "must be positive"),
        (("--replay", "sim1-00001"), "--replay needs --trace"),
    ):
        result = subprocess.run(
            [sys.executable, "-m", "otaserver.cli", "simulate", *args, "--report", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)


def test_workers_and_shards_make_one_fleet_and_one_report(tmp_path: Path) -> None:
    pace = ("--pack-size", "20", "--pack-interval-ms", "1000")
    fleet = ("--devices", "60", "--seed", "31", "--faults", "disconnect=10%,bad_checksum=5%")
    code, summary = simulate(tmp_path / "workers", *fleet, *pace, "--workers", "2")
    assert code == 0 and summary["devices"] == 60, summary["mismatches"]
    assert summary["faults"]["bad_checksum"] == {"FAILED": 3}
    parts = sorted((tmp_path / "workers").glob("trace-worker*.jsonl"))
    assert len(parts) == 2 and all(len(state_sequences(read_trace(p))) == 30 for p in parts)

    # Two machines' shards against one server at once, then their summaries merged.
    with local.start(
        {"OTAKIT_QUEUE_PACK_SIZE": "20", "OTAKIT_QUEUE_PACK_INTERVAL_MS": "1000"}, "shards"
    ) as server:
        user, password = server.tenant_admin
        target = ("--url", server.url, "--mqtt", server.mqtt, "--coap", server.coap)
        account = ("--username", user, "--password", password, "--image-size", "16384")
        logs = [tmp_path / f"s{i}.log" for i in (1, 2)]
        with ExitStack() as files:
            shards = [
                subprocess.Popen(
                    [
                        *(sys.executable, "-m", "otaserver.cli", "simulate", *target, *account),
                        *(*fleet, *pace, "--shard", f"{i}/2", "--report", str(tmp_path / f"s{i}")),
                    ],
                    stdout=files.enter_context(log.open("w")),
                    stderr=subprocess.STDOUT,
                )
                for i, log in zip((1, 2), logs, strict=True)
            ]
            codes = [shard.wait(RUN_TIMEOUT) for shard in shards]
        assert codes == [0, 0], [log.read_text()[-3000:] for log in logs]
    merged = subprocess.run(
        [
            *(sys.executable, "-m", "otaserver.cli", "simulate", "merge"),
            *(str(tmp_path / f"s{i}" / "summary.json") for i in (1, 2)),
            *("--report", str(tmp_path / "merged")),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert merged.returncode == 0, merged.stdout + merged.stderr
    whole = json.loads((tmp_path / "merged" / "summary.json").read_text())
    assert whole["devices"] == 60 and whole["shards"] == ["1/2", "2/2"]
    assert whole["final_states"]["UPDATED"] == 57 and whole["mismatches"] == []
    assert (tmp_path / "merged" / "report.html").exists()


def tokens_csv(directory: Path, names: list[str], made: list[tuple[str, str]]) -> Path:
    """The CSV of (name, token) an operator gives `--tokens`."""
    csv = directory / "tokens.csv"
    rows = "".join(f"{n},{t}\n" for n, (_, t) in zip(names, made, strict=True))
    csv.write_text("name,token\n" + rows)
    return csv


def test_a_fleet_an_operator_made_runs_from_a_csv_of_tokens(tmp_path: Path) -> None:
    with local.start(
        {"OTAKIT_QUEUE_PACK_SIZE": "10", "OTAKIT_QUEUE_PACK_INTERVAL_MS": "1000"}, "csv"
    ) as server:
        user, password = server.tenant_admin
        names = [f"field-unit-{i}" for i in range(12)]

        async def make() -> list[tuple[str, str]]:
            async with await admin.login(server.url, user, password) as rest:
                profile = await rest.create_profile("field-units")
                return await rest.create_devices(profile, names)

        made = asyncio.run(make())
        csv = tokens_csv(tmp_path, names, made)
        result = subprocess.run(
            [
                *(sys.executable, "-m", "otaserver.cli", "simulate", "--url", server.url),
                *("--mqtt", server.mqtt, "--coap", server.coap, "--username", user),
                *("--password", password, "--tokens", str(csv), "--profile", "field-units"),
                *("--assign", "devices", "--faults", "disconnect=25%", "--seed", "5"),
                *("--pack-size", "10", "--image-size", "32768", "--report", str(tmp_path)),
            ],
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
        )
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["devices"] == 12 and summary["final_states"]["UPDATED"] == 12
    plans = [e for e in read_trace(tmp_path / "trace.jsonl") if e["event"] == "plan"]
    assert sorted(e["device"] for e in plans) == sorted(names)


def test_a_fleet_waits_for_the_package_an_operator_assigns(tmp_path: Path) -> None:
    """`--assign wait`: the simulator assigns nothing; the fleet updates once an operator assigns
    a package of their own to the profile."""
    with local.start(
        {"OTAKIT_QUEUE_PACK_SIZE": "10", "OTAKIT_QUEUE_PACK_INTERVAL_MS": "500"}, "wait"
    ) as server:
        user, password = server.tenant_admin
        names = [f"field-unit-{i}" for i in range(8)]
        image = os.urandom(20_000)

        async def make() -> list[tuple[str, str]]:
            async with await admin.login(server.url, user, password) as rest:
                profile = await rest.create_profile("awaiting")
                return await rest.create_devices(profile, names)

        made = asyncio.run(make())
        csv = tokens_csv(tmp_path, names, made)
        simulation = subprocess.Popen(
            [
                *(sys.executable, "-m", "otaserver.cli", "simulate", "--url", server.url),
                *("--mqtt", server.mqtt, "--coap", server.coap, "--username", user),
                *("--password", password, "--tokens", str(csv), "--profile", "awaiting"),
                *("--assign", "wait", "--faults", "none", "--report", str(tmp_path)),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:

            async def operator() -> None:
                async with await admin.login(server.url, user, password) as rest:
                    # The devices are waiting: nothing is assigned yet, nothing updated.
                    await asyncio.sleep(3)
                    assert simulation.poll() is None
                    profile = await rest.find_profile("awaiting")
                    package = await rest.upload_package(profile, "ops", "9.9", image, "SHA512")
                    await rest.assign_to_profile(profile, package)

            asyncio.run(operator())
            stdout, stderr = simulation.communicate(timeout=RUN_TIMEOUT)
        finally:
            simulation.kill()
    assert simulation.returncode == 0, stdout + stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["devices"] == 8 and summary["final_states"]["UPDATED"] == 8
    assert summary["bytes"]["fetched"] >= 8 * len(image)
