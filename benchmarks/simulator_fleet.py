"""The simulator's own cost: memory of a fleet of idle MQTT devices, CPU per device update.

One otakit runs as a subprocess (otatarget.local). Each phase runs the simulator in a child
process of its own (multiprocessing spawn), so its figures are the simulator's alone:

- idle: `--devices` devices connect over MQTT and wait for an update. The child's RSS with the
  fleet connected is printed next to its RSS before it connected (the interpreter with the
  simulator imported) and next to the server's RSS, holding the other end of every connection.
- update: `--update-devices` other devices fetch and verify an `--image-kib` image in 16 KiB
  chunks. The CPU seconds of the child and of the server, from just before the assignment to
  the last device's end, are printed per device update and as a ratio.

    python -m benchmarks.simulator_fleet [--devices 10000] [--update-devices 200] [--image-kib 256]

A device that does not end UPDATED, or a phase past `--timeout`, exits with status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import resource
import shutil
import sys
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import psutil
from otaclient import protocol as p
from otasim import admin, campaign
from otasim.device import DeviceSettings
from otasim.trace import TraceWriter

from otatarget import local

MIB = 2**20
LIMIT_BYTES = int(1.5 * 2**30)  # the bound for 10 000 idle devices
CHUNK_SIZE = 16384
IDLE_SEED, UPDATE_SEED = 1, 2  # the seed names the devices: the phases' fleets differ
CREATE_CONCURRENCY = 32
MARGIN_S = 60.0  # a child's own start and stop, on top of the fleet's timeout


@dataclass
class Phase:
    """What a child needs: where the server is, its fleet's config and the devices' tokens."""

    server: campaign.Server
    config: campaign.Config
    tokens: list[tuple[str, str]]
    progress: bool
    wave: int = 0  # devices started at a time (0: all at once)


def fleet_config(devices: int, seed: int, image_kib: int, timeout: float) -> campaign.Config:
    return campaign.Config(
        devices=devices,
        seed=seed,
        faults="",
        transports="mqtt=1",
        chunk_sizes=str(CHUNK_SIZE) + "=1",
        image_size=image_kib * 1024,
        pack_size=devices,
        timeout_s=timeout,
        # 10 000 devices connecting at once queue at the server: a slow CONNACK is not lost.
        device=DeviceSettings(request_timeout=60.0),
    )


def rss() -> int:
    return int(psutil.Process().memory_info().rss)


def tree_rss(process: psutil.Process) -> int:
    return sum(int(p.memory_info().rss) for p in [process, *process.children(recursive=True)])


def tree_cpu(process: psutil.Process) -> float:
    """User and system CPU seconds of the process and its live children."""
    total = 0.0
    for each in [process, *process.children(recursive=True)]:
        times = each.cpu_times()
        total += times.user + times.system
    return total


def own_cpu() -> float:
    times = os.times()
    return times.user + times.system


def receive(conn: Connection, timeout: float) -> Any:
    if not conn.poll(timeout):
        raise TimeoutError(f"no word from the other process within {timeout:.0f} s")
    return conn.recv()


def raise_fd_limit() -> int:
    """Soft RLIMIT_NOFILE up to the hard one: each connection is a descriptor on each side, and
    the server and the children inherit the limit."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


# ---- the children ---------------------------------------------------------------------------


def idle_child(phase: Phase, conn: Connection) -> None:
    asyncio.run(_idle(phase, conn))


async def _idle(phase: Phase, conn: Connection) -> None:
    before = rss()  # everything imported, nothing connected
    report = print if phase.progress else _quiet
    plans = campaign.fleet_plan(phase.config)
    step = phase.wave or len(plans)
    with TraceWriter(os.devnull) as trace:
        began = time.monotonic()
        async with contextlib.AsyncExitStack() as fleets:
            # In waves: the server's connect path, not the simulator, limits a storm of connects.
            for start in range(0, len(plans), step):
                fleet = campaign.Fleet(
                    phase.server,
                    phase.config,
                    plans[start : start + step],
                    phase.tokens[start : start + step],
                    trace,
                    began,
                )
                await fleets.enter_async_context(fleet.running(report))
                await fleet.wait_idle()
            connected = time.monotonic() - began
            now = rss()
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
            conn.send({"before": before, "rss": now, "peak": peak, "s": connected})
            # Connected until the parent has measured the server.
            await asyncio.to_thread(receive, conn, phase.config.timeout_s)


def update_child(phase: Phase, conn: Connection) -> None:
    asyncio.run(_update(phase, conn))


async def _update(phase: Phase, conn: Connection) -> None:
    report = print if phase.progress else _quiet
    plans = campaign.fleet_plan(phase.config)
    with TraceWriter(os.devnull) as trace:
        fleet = campaign.Fleet(
            phase.server, phase.config, plans, phase.tokens, trace, time.monotonic()
        )
        async with fleet.running(report):
            await fleet.wait_idle()
            cpu = own_cpu()
            conn.send("idle")
            await asyncio.to_thread(receive, conn, phase.config.timeout_s)  # assigned
            began = time.monotonic()
            fleet.assigned()
            await fleet.wait_end()
            cpu = own_cpu() - cpu
            elapsed = time.monotonic() - began
        states = [device.updater.state for device in fleet.devices]
        fetched = sum(device.fetched for device in fleet.devices)
        conn.send({"cpu": cpu, "s": elapsed, "states": states, "fetched": fetched})


def _quiet(line: str) -> None:
    pass


def spawn(target: Any, phase: Phase) -> tuple[multiprocessing.process.BaseProcess, Connection]:
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    child = context.Process(target=target, args=(phase, theirs), daemon=True)
    child.start()
    return child, ours


def finish(child: multiprocessing.process.BaseProcess) -> None:
    child.join(MARGIN_S)
    if child.is_alive():
        child.kill()
        child.join()


# ---- the parent -----------------------------------------------------------------------------


async def make_devices(server: campaign.Server, config: campaign.Config) -> list[tuple[str, str]]:
    names = [plan.name for plan in campaign.fleet_plan(config)]
    async with await admin.login(server.url, server.username, server.password) as rest:
        profile = await rest.create_profile(f"bench-{config.seed}")
        return await rest.create_devices(profile, names, CREATE_CONCURRENCY)


async def assign_package(server: campaign.Server, config: campaign.Config) -> None:
    async with await admin.login(server.url, server.username, server.password) as rest:
        profile = await rest.find_profile(f"bench-{config.seed}")
        # Assigned to the profile (config.assign): no device ids needed.
        await campaign.assign(rest, config, profile, campaign.image_for(config), [])


def idle_phase(server: campaign.Server, process: psutil.Process, args: argparse.Namespace) -> bool:
    config = fleet_config(args.devices, IDLE_SEED, args.image_kib, args.timeout)
    began = time.monotonic()
    tokens = asyncio.run(make_devices(server, config))
    print(f"created {len(tokens)} devices in {time.monotonic() - began:.1f} s")
    server_before = tree_rss(process)
    phase = Phase(server, config, tokens, args.progress, args.wave)
    child, conn = spawn(idle_child, phase)
    try:
        got = receive(conn, args.timeout + MARGIN_S)
        server_after = tree_rss(process)
        conn.send("done")
    finally:
        finish(child)
    n: int = args.devices
    print(f"\nidle: {n} MQTT devices connected in {got['s']:.1f} s")
    print(row("", "RSS MiB", "before MiB", "KiB / device", "peak MiB"))
    sim_kib = (got["rss"] - got["before"]) / n / 1024
    server_kib = (server_after - server_before) / n / 1024
    print(row("simulator", mib(got["rss"]), mib(got["before"]), f"{sim_kib:.1f}", mib(got["peak"])))
    print(row("server", mib(server_after), mib(server_before), f"{server_kib:.1f}", "-"))
    print(row("sim/server", f"{got['rss'] / server_after:.2f}", "", ratio(sim_kib, server_kib), ""))
    within = bool(got["rss"] <= LIMIT_BYTES)
    verdict = "within" if within else "OVER"
    print(f"simulator RSS {mib(got['rss'])} MiB: {verdict} the 1.5 GiB bound")
    return within


def update_phase(
    server: campaign.Server, process: psutil.Process, args: argparse.Namespace
) -> bool:
    m: int = args.update_devices
    config = fleet_config(m, UPDATE_SEED, args.image_kib, args.timeout)
    tokens = asyncio.run(make_devices(server, config))
    child, conn = spawn(update_child, Phase(server, config, tokens, args.progress))
    try:
        receive(conn, args.timeout + MARGIN_S)  # idle
        server_cpu = tree_cpu(process)
        asyncio.run(assign_package(server, config))
        conn.send("assigned")
        got = receive(conn, args.timeout + MARGIN_S)
        server_cpu = tree_cpu(process) - server_cpu
    finally:
        finish(child)
    updated = int(got["states"].count(p.UPDATED))
    print(f"\nupdate: {m} MQTT devices, a {args.image_kib} KiB image in {CHUNK_SIZE} B chunks")
    print(f"{updated}/{m} UPDATED in {got['s']:.1f} s, {got['fetched'] / MIB:.1f} MiB fetched")
    print(row("", "CPU s", "ms / update", "", ""))
    sim, srv = got["cpu"], server_cpu
    print(row("simulator", f"{sim:.2f}", f"{1000 * sim / m:.2f}", "", ""))
    print(row("server", f"{srv:.2f}", f"{1000 * srv / m:.2f}", "", ""))
    print(row("sim/server", ratio(sim, srv), ratio(sim, srv), "", ""))
    if updated != m:
        others = sorted({s for s in got["states"] if s != p.UPDATED})
        print(f"{m - updated} devices did not end UPDATED: {others}")
    return updated == m


def row(*cells: str) -> str:
    widths = (-11, 9, 11, 13, 9)
    return " ".join(
        f"{cell:{'<' if w < 0 else '>'}{abs(w)}}" for cell, w in zip(cells, widths, strict=True)
    )


def mib(size: int) -> str:
    return f"{size / MIB:.1f}"


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b > 0 else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=10_000, help="idle MQTT devices")
    parser.add_argument("--update-devices", type=int, default=200, help="devices updated")
    parser.add_argument("--image-kib", type=int, default=256)
    parser.add_argument(
        "--wave", type=int, default=0, help="idle devices connecting at a time (0: all)"
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per phase")
    parser.add_argument("--progress", action="store_true", help="the fleets' progress lines")
    args = parser.parse_args()
    fds = raise_fd_limit()
    print(f"RLIMIT_NOFILE {fds}; CPU count {os.cpu_count()}")
    # One pack holds every device: the server's pace is not what is measured.
    pack = max(args.devices, args.update_devices)
    settings = {"OTAKIT_QUEUE_PACK_SIZE": str(pack), "OTAKIT_QUEUE_PACK_INTERVAL_MS": "1000"}
    started = local.start(settings, name="bench")
    try:
        user, password = started.tenant_admin
        server = campaign.Server(started.url, started.mqtt, started.coap, user, password)
        process = psutil.Process(started.process.pid)
        within = idle_phase(server, process, args)
        updated = update_phase(server, process, args)
    finally:
        started.stop()
        shutil.rmtree(started.data_dir, ignore_errors=True)
    if not (within and updated):
        sys.exit(1)


if __name__ == "__main__":
    main()
