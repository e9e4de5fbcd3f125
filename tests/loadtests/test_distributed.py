"""The locustfile in Locust's distributed mode: one master (it starts otakit, makes the fleet and
gives the verdict) and two worker processes (the device users and the operator), as separate
processes on the machine, through a whole campaign over every transport."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.loadtests.locust_run import (
    ALL_DEVICES,
    LocustRun,
    free_port,
    start_locust,
    stop_tree,
)

pytestmark = pytest.mark.xdist_group("fleet")

DEVICE_USERS = 80  # 20 per transport
RUN_TIME = "90s"
MASTER_TIMEOUT_S = 150.0  # the run time, otakit's start and the fleet's setup
WORKER_TIMEOUT_S = 30.0  # after the master: a worker quits when the master tells it to
# A worker logs (at DEBUG) the users the master's spawn job gives it.
SPAWNED = re.compile(r"Spawning additional (\{[^}]*\})")
TRANSPORTS = ("MQTT", "MQTT5", "HTTP", "CoAP")


def spawned_users(log: str) -> dict[str, int]:
    """The users of each class a worker's log says it spawned."""
    users: dict[str, int] = {}
    for found in SPAWNED.findall(log):
        for name, count in json.loads(found).items():
            users[name] = users.get(name, 0) + int(count)
    return users


def test_a_master_and_two_workers_update_every_device(tmp_path: Path) -> None:
    port = free_port()
    prefix = tmp_path / "run"
    master_log, worker_logs = tmp_path / "master.log", [tmp_path / "worker-1.log"]
    worker_logs.append(tmp_path / "worker-2.log")
    master_args = [
        *("--master", "--headless", "--expect-workers", "2", "--expect-workers-max-wait", "30"),
        *("--master-bind-host", "127.0.0.1", "--master-bind-port", str(port)),
        *("--csv", str(prefix), "--only-summary", "--start-local"),
        *("-u", str(DEVICE_USERS + 1), "-r", "100", "-t", RUN_TIME, "--tags", "campaign"),
        *("--stop-when-done", "--expect-updated", "--settle-s", "1"),
        *("--pack-size", "50", "--pack-interval-ms", "500", "--chunk-size", "16384"),
        *ALL_DEVICES,
        "Operator",
    ]
    worker_args = ["--worker", "--master-host", "127.0.0.1", "--master-port", str(port)]
    worker_args += ["--loglevel", "DEBUG"]
    processes: list[subprocess.Popen[bytes]] = []
    try:
        master = start_locust(master_args, tmp_path, master_log)
        processes.append(master)
        for log in worker_logs:
            processes.append(start_locust(worker_args, tmp_path, log))
        returncode = master.wait(MASTER_TIMEOUT_S)
        worker_codes = [worker.wait(WORKER_TIMEOUT_S) for worker in processes[1:]]
    finally:
        for process in processes:
            stop_tree(process)

    output = master_log.read_text(errors="replace")
    assert returncode == 0, output[-4000:]
    assert worker_codes == [0, 0], [log.read_text(errors="replace")[-2000:] for log in worker_logs]
    assert "2 workers connected" in output
    assert "to 2 ready workers" in output  # the spawn jobs went to both

    # Both workers ran users, and between them every one.
    spawned = [spawned_users(log.read_text(errors="replace")) for log in worker_logs]
    device_users = [sum(n for name, n in users.items() if name in ALL_DEVICES) for users in spawned]
    assert all(n > 0 for n in device_users), spawned
    assert sum(device_users) == DEVICE_USERS, spawned
    assert sum(users.get("Operator", 0) for users in spawned) == 1, spawned

    run = LocustRun(returncode, output, prefix)
    stats = run.stats()
    per_class = {name: sum(users.get(name, 0) for users in spawned) for name in ALL_DEVICES}
    for transport, device_class in zip(TRANSPORTS, ALL_DEVICES, strict=True):
        users = per_class[device_class]
        assert run.count(transport, "connect") == users, (
            transport,
            stats.get((transport, "connect")),
        )
        assert run.count(transport, "updated") == users, (
            transport,
            stats.get((transport, "updated")),
        )
        assert run.count(transport, "verified") == users, (
            transport,
            stats.get((transport, "verified")),
        )
        assert run.count(transport, "chunk") >= users
        if transport in ("MQTT", "MQTT5"):  # connected before the assignment: each is pushed it
            assert run.count(transport, "notify") == users, stats.get((transport, "notify"))
    assert sum(run.count(t, "updated") for t in TRANSPORTS) == DEVICE_USERS
    assert run.failures() == [], run.failures()
    assert stats[("", "Aggregated")]["Failure Count"] == "0"
    assert f"{DEVICE_USERS} devices told of the package, {DEVICE_USERS} UPDATED, 0 FAILED" in output
