"""The phases of benchmarks.fleet against one running otakit, each returning its rows.

A phase that cannot finish (a device without its push, a device not UPDATED, a wait past its
timeout) adds a failure, which makes benchmarks.fleet exit with status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import psutil
from otaclient import protocol as p
from otasim import admin, campaign
from otasim.device import DeviceSettings
from otasim.fleet import DevicePlan
from otatarget.rest import Entity

from benchmarks.fleet_campaign import CampaignJob, CampaignResult, campaign_child
from benchmarks.fleet_listeners import ListenJob, listen_child
from benchmarks.fleet_procs import (
    MARGIN_S,
    Children,
    machine_busy,
    own_cpu,
    postgres_cpu,
    tree_cpu,
)
from benchmarks.fleet_rows import Row

CHUNK_SIZE = 16 * 1024
NOTICE_IMAGE = b"\x00" * 1024  # the notification rows: its bytes never travel
BUSY = 0.85  # a process above this share of one core is taken as the limit

T = TypeVar("T")


@dataclass
class Target:
    """One running otakit and what its rows are labelled with."""

    server: campaign.Server
    process: psutil.Process
    backend: str
    rows: list[Row] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def row(self, figure: str, goal: str, measured: str, met: bool | None) -> None:
        self.rows.append(Row(figure, goal, self.backend, measured, met))
        print(f"[{self.backend}] {figure}: {measured}", flush=True)

    def fail(self, why: str) -> None:
        self.failures.append(f"{self.backend}: {why}")
        print(f"[{self.backend}] FAILED: {why}", flush=True)


class CpuMeter:
    """CPU seconds of the server, of PostgreSQL and of the clients over one wall-clock span."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.pg = target.backend == "postgresql"
        self.began = time.monotonic()
        self.server = tree_cpu(target.process)
        self.postgres = postgres_cpu() if self.pg else 0.0
        self.machine = machine_busy()

    def note(self, clients: Sequence[float]) -> str:
        """Cores used by each side, and which side was busy. `clients` are the client
        processes' CPU seconds over the same span."""
        wall = max(time.monotonic() - self.began, 1e-9)
        server = (tree_cpu(self.target.process) - self.server) / wall
        parts = [f"server {server:.2f}"]
        database = 0.0
        if self.pg:
            database = (postgres_cpu() - self.postgres) / wall
            parts.append(f"postgres {database:.2f}")
        each = [c / wall for c in clients]
        total = sum(each)
        parts.append(f"clients {total:.2f} ({len(each)} processes, busiest {max(each):.2f})")
        cores = psutil.cpu_count() or 1
        others = (machine_busy() - self.machine) / wall - server - database - total
        if others >= 0.1:
            parts.append(f"OTHER processes {others:.2f}")
        if server >= BUSY:
            busy = "server busy (one core)"
        elif max(each) >= BUSY:
            busy = "CLIENT busy"
        elif server + database + total + max(others, 0.0) >= BUSY * cores:
            busy = "machine busy (all cores" + (", other work too)" if others >= 0.1 else ")")
        else:
            busy = "no side saturated (the server waits)"
        return f"cores over {wall:.1f} s: " + ", ".join(parts) + f" -> {busy}"


def rest(target: Target, timeout: float, work: Callable[[admin.Admin], Awaitable[T]]) -> T:
    """`work` on a tenant administrator's session."""

    async def run() -> T:
        server = target.server
        async with await admin.login(server.url, server.username, server.password, timeout) as r:
            return await work(r)

    return asyncio.run(run())


def fleet_config(devices: int, seed: int, image_kib: int, timeout: float) -> campaign.Config:
    return campaign.Config(
        devices=devices,
        seed=seed,
        faults="",
        transports="mqtt=1",
        chunk_sizes=f"{CHUNK_SIZE}=1",
        image_size=image_kib * 1024,
        timeout_s=timeout,
        # Thousands of devices queue at the server: a late answer is not a lost one.
        device=DeviceSettings(request_timeout=60.0),
    )


# ---- devices ----------------------------------------------------------------------------------


def create_devices(
    target: Target, plans: list[DevicePlan], args: argparse.Namespace, label: bool
) -> tuple[str, list[tuple[str, str]]]:
    """A profile of the planned devices, made concurrently through the REST API: (profile id,
    [(device id, token)]). With `label`, the time is a row of its own."""
    names = [plan.name for plan in plans]

    async def work(r: admin.Admin) -> tuple[str, list[tuple[str, str]]]:
        profile = await r.create_profile(f"bench-{len(names)}-{time.time_ns()}")
        return profile, await r.create_devices(profile, names, args.create_concurrency)

    meter = CpuMeter(target)
    cpu = own_cpu()
    began = time.monotonic()
    profile, devices = rest(target, args.timeout, work)
    took = time.monotonic() - began
    note = meter.note([own_cpu() - cpu])
    print(f"[{target.backend}] created {len(devices)} devices in {took:.1f} s; {note}")
    if label:
        figure = f"create {len(names)} devices via REST, {args.create_concurrency} concurrent"
        target.row(figure, "(info)", f"{took:.1f} s, {len(names) / took:.0f} devices/s", None)
        target.row("CPU: device creation (client = this process)", "(info)", note, None)
    return profile, devices


async def _upload(r: admin.Admin, profile: str, data: bytes) -> Entity:
    return await r.upload_package(profile, "bench", f"v{time.time_ns()}", data, "SHA256")


async def _assign(r: admin.Admin, profile: str, package: Entity | None) -> tuple[float, float]:
    """Saves the profile with the package as its firmware (None: unassigned): time.monotonic()
    as the POST leaves, and the POST's own time in seconds."""
    body = await r.call("GET", f"/api/deviceProfile/{profile}")
    body["firmwareId"] = None if package is None else package["id"]
    began = time.monotonic()
    await r.call("POST", "/api/deviceProfile", json=body)
    return began, time.monotonic() - began


def split(items: list[T], parts: int) -> list[list[T]]:
    return [items[k::parts] for k in range(parts) if items[k::parts]]


# ---- notification: the lean listeners ---------------------------------------------------------


@dataclass
class Notified:
    """When the pushes arrived, against the moment the assignment was sent."""

    assigned: float  # time.monotonic() as the POST left
    post_s: float
    times: list[float]  # arrival of each push, sorted; devices without one are left out
    missing: int
    cpu_note: str


def notify(
    target: Target,
    profile: str,
    devices: list[tuple[str, str]],
    args: argparse.Namespace,
    label: str,
) -> Notified | None:
    """The devices connect as lean listeners, a package is assigned to their profile, and each
    notes its push. None when the phase failed."""
    host, _, port = target.server.mqtt.rpartition(":")
    tokens = [token for _, token in devices]
    jobs = [
        ListenJob(host, int(port), part, args.connect_concurrency, args.timeout)
        for part in split(tokens, args.clients)
    ]
    children = Children.spawn(listen_child, jobs)
    try:
        connected = children.gather(args.timeout + MARGIN_S)
        seconds = max(c["s"] for c in connected)
        print(f"[{target.backend}] {label}: {len(tokens)} listeners connected in {seconds:.1f} s")
        package = rest(target, args.timeout, lambda r: _upload(r, profile, NOTICE_IMAGE))
        meter = CpuMeter(target)
        children.send("expect")
        assigned, post_s = rest(target, args.timeout, lambda r: _assign(r, profile, package))
        heard = children.gather(args.timeout + MARGIN_S)
        note = meter.note([h["cpu"] for h in heard])
        children.send("close")
    except Exception as error:
        target.fail(f"{label}: {type(error).__name__}: {error}")
        return None
    finally:
        children.finish()
    times = sorted(t for h in heard for t in h["times"] if not math.isnan(t))
    missing = len(tokens) - len(times)
    if missing:
        target.fail(f"{label}: {missing} of {len(tokens)} devices got no push in {args.timeout} s")
    return Notified(assigned, post_s, times, missing, note)


def fanout_phase(
    target: Target, profile: str, devices: list[tuple[str, str]], args: argparse.Namespace
) -> None:
    n = len(devices)
    got = notify(target, profile, devices, args, "fan-out")
    if got is None:
        return
    target.row(
        f"POST /api/deviceProfile assigning a package to a profile of {n} devices",
        "< 1 s",
        f"{got.post_s:.2f} s",
        got.post_s < 1.0,
    )
    if not got.times:
        return
    span = got.times[-1] - got.assigned
    rate = len(got.times) / span
    measured = f"{rate:,.0f} devices/s ({len(got.times)} in {span:.2f} s)"
    if got.missing:
        measured += f", {got.missing} MISSING"
    target.row(
        f"notification fan-out, throttle off, {n} MQTT devices: assignment to last push",
        "≥ 5 000 devices/s",
        measured,
        rate >= 5000 and not got.missing,
    )
    target.row("CPU: fan-out (clients = lean listeners)", "(info)", got.cpu_note, None)


def unassign(target: Target, profile: str, args: argparse.Namespace) -> None:
    """The profile without its package again, so that the campaign's devices start idle."""
    rest(target, args.timeout, lambda r: _assign(r, profile, None))


def most_in_window(times: list[float], window: float) -> int:
    """The most of the sorted `times` in any half-open span [t, t + window)."""
    most, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - window:
            start += 1
        most = max(most, end - start + 1)
    return most


async def _initiated(r: admin.Admin, devices: list[tuple[str, str]]) -> list[int]:
    """Every INITIATED time of these devices' fw_state history, sorted (ms)."""

    async def one(device: tuple[str, str]) -> list[int]:
        history = await r.call(
            "GET",
            f"/api/plugins/telemetry/DEVICE/{device[0]}/values/timeseries",
            params={"keys": "fw_state", "startTs": 0, "endTs": 4_000_000_000_000, "limit": 100},
        )
        return [int(p["ts"]) for p in history.get("fw_state", []) if p["value"] == "INITIATED"]

    return sorted(t for times in await admin.bounded(devices, one, 16) for t in times)


def pace_phase(
    target: Target, profile: str, devices: list[tuple[str, str]], args: argparse.Namespace
) -> None:
    n, size, interval_s = len(devices), args.pace_size, args.pace_interval_ms / 1000
    got = notify(target, profile, devices, args, "pace")
    if got is None or not got.times:
        return
    pace = f"pace {size} per {interval_s:g} s, {n} devices"
    # The goal is about the server: its notification times (each device's INITIATED), read back
    # through the REST API. Receipt times add each push's delivery, which spreads a pack over a
    # few ms and lets a window catch one pack's last pushes and the next one's first.
    stamped = [t / 1000 for t in rest(target, args.timeout, lambda r: _initiated(r, devices))]
    for source, times, goal in (
        ("notified (server's INITIATED times)", stamped, f"never above {size}"),
        ("received by the devices", got.times, "(info)"),
    ):
        most = most_in_window(times, interval_s)
        target.row(
            f"{pace}: most {source} in any {interval_s:g} s window",
            goal,
            str(most),
            most <= size if goal != "(info)" else None,
        )
    # Pack k can come no sooner than k intervals after the first: the fastest the allowed rate
    # empties the backlog, set against the time it took.
    packs = math.ceil(len(stamped) / size)
    fastest = (packs - 1) * interval_s
    took = stamped[-1] - stamped[0] if stamped else 0
    if packs > 1 and took > 0:
        share = fastest / took
        measured = f"{100 * share:.1f} % ({packs} packs in {took:.1f} s, {fastest:g} s at best)"
        target.row(
            f"{pace}: share of the allowed rate while a backlog remains (server's times)",
            "≥ 99 %",
            measured,
            share >= 0.99 and not got.missing and len(stamped) == n,
        )
    first = got.times[0] - got.assigned
    target.row(f"{pace}: assignment to first push", "(info)", f"{first:.2f} s", None)
    target.row("CPU: pace (clients = lean listeners)", "(info)", got.cpu_note, None)


# ---- the campaign: simulated devices ----------------------------------------------------------


def campaign_phase(
    target: Target,
    profile: str,
    config: campaign.Config,
    plans: list[DevicePlan],
    devices: list[tuple[str, str]],
    args: argparse.Namespace,
) -> None:
    n = len(plans)
    jobs = [
        CampaignJob(target.server, config, plan_part, device_part, args.progress, args.wave)
        for plan_part, device_part in zip(
            split(plans, args.clients), split(devices, args.clients), strict=True
        )
    ]
    timeout = config.timeout_s + MARGIN_S
    children = Children.spawn(campaign_child, jobs)
    try:
        began = time.monotonic()
        children.gather(timeout)  # every device idle
        print(f"[{target.backend}] campaign: {n} devices idle in {time.monotonic() - began:.1f} s")
        image = campaign.image_for(config)
        package = rest(target, args.timeout, lambda r: _upload(r, profile, image))
        meter = CpuMeter(target)
        children.send("go")
        assigned, _ = rest(target, args.timeout, lambda r: _assign(r, profile, package))
        results: list[CampaignResult] = children.gather(timeout)
        note = meter.note([r.cpu for r in results])
    except Exception as error:
        target.fail(f"campaign: {type(error).__name__}: {error}")
        return
    finally:
        children.finish()
    states = [s for r in results for s in r.states]
    updated = states.count(p.UPDATED)
    if updated != n:
        reasons = sorted({why for r in results for why in r.reasons})
        target.fail(f"campaign: {n - updated} of {n} devices did not end UPDATED: {reasons[:3]}")
    if any(r.timed_out for r in results):
        target.fail(f"campaign: past its timeout of {config.timeout_s:.0f} s")
    ends = [t for r in results for t in r.updated_at]
    kib = config.image_size // 1024
    figure = (
        f"campaign: {n} devices, {kib} KiB image, {CHUNK_SIZE // 1024} KiB chunks over MQTT, "
        "SHA-256: assignment to last UPDATED"
    )
    if ends:
        span = max(ends) - assigned
        measured = f"{span:.1f} s ({updated}/{n} UPDATED)"
        target.row(figure, "≤ 60 s", measured, span <= 60.0 and updated == n)
    chunks = [ms for r in results for ms in r.chunk_ms]
    if len(chunks) >= 2:
        cuts = statistics.quantiles(chunks, n=100, method="inclusive")
        p50, p99 = cuts[49], cuts[98]
        measured = f"p99 {p99:.1f} ms (p50 {p50:.1f}, max {max(chunks):.0f}, {len(chunks)} chunks)"
        target.row("MQTT chunk round trip during the campaign", "p99 ≤ 50 ms", measured, p99 <= 50)
    fetched = sum(r.fetched for r in results) / 2**20
    print(f"[{target.backend}] campaign: {fetched:.0f} MiB fetched")
    target.row("CPU: campaign (clients = otasim fleets)", "(info)", note, None)
