"""`--workers N`: the fleet spread over N processes (one per core), one campaign still.

The parent makes the devices and assigns the package once every worker's devices are idle; the
workers run the devices. They share the monotonic clock (one machine), so their traces, read
together, are one trace: the parent's holds the run-level events, each worker's its devices'.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import sys
import time
from collections.abc import Callable
from multiprocessing.synchronize import Event as EventType
from pathlib import Path

from otasim import admin, campaign
from otasim.campaign import Config, Fleet, Server
from otasim.fleet import DevicePlan
from otasim.trace import TraceWriter

READY_TIMEOUT_S = 600.0


def _report(worker: str) -> Callable[[str], None]:
    """Each worker's progress line on the console the workers share."""

    def report(line: str) -> None:
        print(f"{worker}: {line}", file=sys.stderr, flush=True)

    return report


def _worker(
    server: Server,
    config: Config,
    plans: list[DevicePlan],
    tokens: list[tuple[str, str]],
    trace_path: Path,
    started: float,
    ready: EventType,
    go: EventType,
) -> None:
    asyncio.run(_work(server, config, plans, tokens, trace_path, started, ready, go))


async def _work(
    server: Server,
    config: Config,
    plans: list[DevicePlan],
    tokens: list[tuple[str, str]],
    trace_path: Path,
    started: float,
    ready: EventType,
    go: EventType,
) -> None:
    trace = TraceWriter(trace_path)
    fleet = Fleet(server, config, plans, tokens, trace, started)
    try:
        async with fleet.running(_report(trace_path.stem)):
            await fleet.wait_idle()
            ready.set()
            await asyncio.to_thread(go.wait, config.timeout_s)
            fleet.assigned()
            await fleet.wait_end()
        async with await admin.login(server.url, server.username, server.password) as rest:
            await fleet.check(rest)
    finally:
        trace.close()


def run(
    server: Server, config: Config, report_dir: Path, count: int, report: Callable[[str], None]
) -> list[Path]:
    """Runs the campaign over `count` processes; the traces to read together."""
    return asyncio.run(_run(server, config, report_dir, count, report))


async def _run(
    server: Server, config: Config, report_dir: Path, count: int, report: Callable[[str], None]
) -> list[Path]:
    plans = campaign.fleet_plan(config)
    started = time.monotonic()
    main_trace = report_dir / "trace.jsonl"
    trace = TraceWriter(main_trace)
    trace.emit(0.0, "", "run", **campaign.run_event(config, len(plans)))
    context = multiprocessing.get_context("spawn")
    paths = [main_trace]
    processes = []
    timed_out = True
    try:
        async with await admin.login(server.url, server.username, server.password) as rest:
            profile = await campaign.profile_for(rest, config)
            tokens = await campaign.devices_for(rest, config, plans, profile)
            go = context.Event()
            readies = []
            for k in range(count):
                part = report_dir / f"trace-worker{k + 1}.jsonl"
                paths.append(part)
                ready = context.Event()
                readies.append(ready)
                process = context.Process(
                    target=_worker,
                    args=(server, config, plans[k::count], tokens[k::count], part, started),
                    kwargs={"ready": ready, "go": go},
                    daemon=True,
                )
                process.start()
                processes.append(process)
            for ready in readies:
                if not await asyncio.to_thread(ready.wait, READY_TIMEOUT_S):
                    raise TimeoutError("a worker's devices did not all connect in time")
            report(f"otasim: {len(plans)} devices connected in {count} workers")
            ids = [device_id for device_id, _ in tokens]
            await campaign.assign(rest, config, profile, campaign.image_for(config), ids)
            trace.emit(time.monotonic() - started, "", "assigned")
            go.set()
            deadline = time.monotonic() + config.timeout_s + 60
            for process in processes:
                await asyncio.to_thread(process.join, max(0.0, deadline - time.monotonic()))
            timed_out = any(p.exitcode != 0 for p in processes)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
        trace.emit(time.monotonic() - started, "", "end", timed_out=timed_out)
        trace.close()
    return paths
