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


@dataclass
class CampaignJob:
    server: campaign.Server
    config: campaign.Config
    plans: list[DevicePlan]
    tokens: list[tuple[str, str]]
    progress: bool


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


async def _campaign(job: CampaignJob, conn: Connection) -> None:
    name = f"campaign {os.getpid()}"
    report = (lambda line: print(f"{name}: {line}", flush=True)) if job.progress else _quiet
    trace = Recorder()
    try:
        fleet = campaign.Fleet(job.server, job.config, job.plans, job.tokens, trace, trace.started)
        async with fleet.running(report):
            await fleet.wait_idle()
            conn.send("idle")
            await asyncio.to_thread(receive, conn, job.config.timeout_s)  # "go"
            cpu = own_cpu()
            fleet.assigned()
            await fleet.wait_end()
            cpu = own_cpu() - cpu
        states = [device.updater.state for device in fleet.devices]
        reasons = [d.verdict() for d in fleet.devices if d.updater.state != p.UPDATED][:5]
        conn.send(
            CampaignResult(
                states,
                trace.updated_at,
                trace.chunk_ms,
                sum(device.fetched for device in fleet.devices),
                cpu,
                reasons,
                fleet.timed_out,
            )
        )
    finally:
        trace.close()
