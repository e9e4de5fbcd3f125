"""The simulator's side of the campaign row: a share of the fleet in one child process.

Each child runs otasim's campaign.Fleet (otaclient's updater per device, verifying SHA-256 and
reporting every state) on its own asyncio loop. The trace is kept in memory, reduced to what the
rows need: each chunk's round trip and the moment each device reported UPDATED, on the
monotonic clock the machine's processes share, so the parent can set them against the moment
it assigned the package.

parent -> child: the job; child -> parent: "idle" once every device has connected and heard it
has nothing to do; parent -> child: "go" (the package is being assigned); child -> parent:
CampaignResult once every device has ended, or the job's timeout has passed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from otaclient import protocol as p
from otasim import campaign
from otasim.fleet import DevicePlan
from otasim.trace import TraceWriter

from benchmarks.fleet_procs import own_cpu, receive, report_failure

PROGRESS_S = 10.0


@dataclass
class CampaignJob:
    server: campaign.Server
    config: campaign.Config
    plans: list[DevicePlan]
    tokens: list[tuple[str, str]]
    progress: bool
    wave: int  # devices connecting at a time (0: all)


@dataclass
class CampaignResult:
    states: list[str]
    updated_at: list[float]  # time.monotonic() of each UPDATED report
    chunk_ms: list[float]
    fetched: int
    cpu: float  # CPU seconds from "go" to the last device's end
    reasons: list[str] = field(default_factory=list)  # why devices ended otherwise (a few)
    timed_out: bool = False


class Recorder(TraceWriter):
    """The trace reduced to chunk round trips and UPDATED moments, nothing written."""

    def __init__(self) -> None:
        super().__init__(os.devnull)
        self.chunk_ms: list[float] = []
        self.updated_at: list[float] = []
        self.started = time.monotonic()  # campaign.Fleet's `started`: t is counted from here

    def emit(self, t: float, device: str, event: str, **fields: Any) -> None:
        if event == "chunk":
            self.chunk_ms.append(fields["ms"])
        elif event == "state" and fields["state"] == p.UPDATED:
            self.updated_at.append(self.started + t)


def campaign_child(job: CampaignJob, conn: Connection) -> None:
    try:
        asyncio.run(_campaign(job, conn))
    except BaseException as error:
        report_failure(conn, error)


def _quiet(line: str) -> None:
    pass


async def _tick(fleets: list[campaign.Fleet], started: float) -> None:
    """One line for the process's whole share every PROGRESS_S (each Fleet's own line is per
    wave)."""
    total = campaign.Progress(sum(len(fleet.plans) for fleet in fleets))
    while True:
        await asyncio.sleep(PROGRESS_S)
        total.states = {k: v for fleet in fleets for k, v in fleet.progress.states.items()}
        total.ended = sum(fleet.progress.ended for fleet in fleets)
        print(f"campaign {os.getpid()}: {total.line(time.monotonic() - started)}", flush=True)


async def _campaign(job: CampaignJob, conn: Connection) -> None:
    trace = Recorder()
    step = job.wave or len(job.plans)
    fleets: list[campaign.Fleet] = []
    try:
        async with contextlib.AsyncExitStack() as stack:
            # In waves, each a Fleet of its own: thousands of connects at once exhaust the
            # server's database pool and their retries keep it exhausted (benchmarks/README.md).
            for start in range(0, len(job.plans), step):
                fleet = campaign.Fleet(
                    job.server,
                    job.config,
                    job.plans[start : start + step],
                    job.tokens[start : start + step],
                    trace,
                    trace.started,
                )
                await stack.enter_async_context(fleet.running(_quiet))
                await fleet.wait_idle()
                fleets.append(fleet)
            if job.progress:
                ticker = asyncio.create_task(_tick(fleets, trace.started))
                stack.callback(ticker.cancel)
            conn.send("idle")
            await asyncio.to_thread(receive, conn, job.config.timeout_s)  # "go"
            cpu = own_cpu()
            for fleet in fleets:
                fleet.assigned()
            # One deadline for all: Fleet.wait_end's own timeout would start again per fleet.
            tasks = [task for fleet in fleets for task in fleet.tasks]
            _, pending = await asyncio.wait(tasks, timeout=job.config.timeout_s)
            cpu = own_cpu() - cpu
        devices = [device for fleet in fleets for device in fleet.devices]
        conn.send(
            CampaignResult(
                [device.updater.state for device in devices],
                trace.updated_at,
                trace.chunk_ms,
                sum(device.fetched for device in devices),
                cpu,
                [d.verdict() for d in devices if d.updater.state != p.UPDATED][:5],
                bool(pending),
            )
        )
    finally:
        trace.close()
