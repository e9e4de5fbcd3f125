"""A whole campaign against one server: devices made, connected and idle, the package assigned,
every device run to its end, the server's record checked, the trace written.

Everything a run decides comes from its Config and seed; the server is reached by URL only.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from otasim import admin
from otasim.device import DeviceEnv, DeviceSettings, VirtualDevice
from otasim.faults import parse_mix
from otasim.fleet import (
    DEFAULT_CHUNK_SIZES,
    DEFAULT_TRANSPORTS,
    DevicePlan,
    derived_seed,
    parse_chunk_sizes,
    parse_transports,
    plan_fleet,
    shard,
)
from otasim.links import CoapLink, HttpLink, Link, MqttLink
from otasim.relay import LossyRelay
from otasim.trace import TraceWriter

LOSSY_TIMEOUT_S = 95.0


@dataclass
class Server:
    url: str  # the REST and HTTP device API, e.g. http://localhost:8080
    mqtt: str = "localhost:1883"
    coap: str = "localhost:5683"
    username: str = "tenant@thingsboard.org"
    password: str = "tenant"


@dataclass
class Config:
    devices: int = 100
    seed: int = 1
    faults: str = ""
    transports: str = DEFAULT_TRANSPORTS
    chunk_sizes: str = DEFAULT_CHUNK_SIZES
    image_size: int = 256 * 1024
    algorithm: str = "SHA256"
    shard: str = "1/1"
    pack_size: int = 100  # the server's TB_QUEUE_CORE_FW_PACK_SIZE, for the pace check
    pack_interval_ms: int = 1000
    assign: str = "profile"  # profile | devices | wait (an operator assigns)
    profile: str = ""  # a profile's name to use instead of a new one
    tokens_csv: str = ""  # devices an operator made (name,token), instead of new ones
    timeout_s: float = 600.0
    coap_loss: float = 0.05  # the share of datagrams the coap_loss fault's relay drops
    device: DeviceSettings = field(default_factory=DeviceSettings)


def fleet_plan(config: Config) -> list[DevicePlan]:
    names = [name for name, _ in operator_devices(config)]
    plans = plan_fleet(
        len(names) or config.devices,
        config.seed,
        faults=parse_mix(config.faults),
        transports=parse_transports(config.transports),
        chunk_sizes=parse_chunk_sizes(config.chunk_sizes),
        image_size=config.image_size,
        names=names,
    )
    return shard(plans, config.shard)


def operator_devices(config: Config) -> list[tuple[str, str]]:
    """(name, token) of the devices of --tokens, or none."""
    return admin.read_tokens_csv(Path(config.tokens_csv)) if config.tokens_csv else []


async def devices_for(
    rest: admin.Admin, config: Config, plans: list[DevicePlan], profile: str
) -> list[tuple[str, str]]:
    """(device id, token) of each planned device: made now, or the operator's, found by name."""
    names = [plan.name for plan in plans]
    if not config.tokens_csv:
        return await rest.create_devices(profile, names)
    tokens = dict(operator_devices(config))
    ids = await rest.find_devices(names)
    return [(device_id, tokens[name]) for device_id, name in zip(ids, names, strict=True)]


def image_for(config: Config) -> bytes:
    return random.Random(derived_seed(config.seed, "image")).randbytes(config.image_size)


class Progress:
    """Counts of devices per state, for the console line."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.states: dict[str, str] = {}
        self.ended = 0

    def line(self, elapsed: float, width: int = 30) -> str:
        """`[#########.....] 412/500 ended · DOWNLOADING 88 UPDATED 400 … · 12 s`"""
        counts = Counter(self.states.values())
        parts = " ".join(f"{state} {n}" for state, n in sorted(counts.items()))
        filled = width * self.ended // self.total if self.total else width
        bar = "#" * filled + "." * (width - filled)
        return f"[{bar}] {self.ended}/{self.total} ended · {parts} · {elapsed:.0f} s"


class Fleet:
    """The devices of one process, their links, and their progress on the console."""

    def __init__(
        self,
        server: Server,
        config: Config,
        plans: list[DevicePlan],
        tokens: list[tuple[str, str]],
        trace: TraceWriter,
        started: float,
    ) -> None:
        self.server, self.config, self.plans, self.tokens = server, config, plans, tokens
        self.env = DeviceEnv(trace, started, asyncio.Event(), config.device)
        self.progress = Progress(len(plans))
        self.devices: list[VirtualDevice] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.timed_out = False

    @contextlib.asynccontextmanager
    async def running(self, report: Callable[[str], None]) -> AsyncIterator[Fleet]:
        async with _links(self.server, self.config, self.plans, self.tokens) as links:
            self.devices = [
                VirtualDevice(plan, links[plan.name], self.env, self.config.image_size)
                for plan in self.plans
            ]
            self.tasks = [asyncio.create_task(_device(d, self.progress)) for d in self.devices]
            ticker = asyncio.create_task(_tick(self, report))
            try:
                yield self
            finally:
                ticker.cancel()
                for task in self.tasks:
                    task.cancel()
                await asyncio.gather(*self.tasks, return_exceptions=True)
        report(self.progress.line(self.env.now()))

    async def wait_idle(self) -> None:
        """Until every device has connected and heard it has nothing to do (or has ended)."""
        deadline = time.monotonic() + self.config.timeout_s
        pairs = list(zip(self.devices, self.tasks, strict=True))
        while not all(d.idle or t.done() for d, t in pairs):
            if time.monotonic() > deadline:
                raise TimeoutError("the devices did not all connect in time")
            await asyncio.sleep(0.05)

    def assigned(self) -> None:
        self.env.assigned.set()

    async def wait_end(self) -> None:
        _, pending = await asyncio.wait(self.tasks, timeout=self.config.timeout_s)
        self.timed_out = bool(pending)

    async def check(self, rest: admin.Admin) -> None:
        """The server must have recorded the state each device ended in."""
        ids = [device_id for device_id, _ in self.tokens]
        states = await rest.server_states(ids)
        for device, device_id in zip(self.devices, ids, strict=True):
            state, notified = states.get(device_id, (None, []))
            self.env.trace.emit(
                self.env.now(), device.plan.name, "server", state=state or "NONE", notified=notified
            )


def run_event(config: Config, devices: int) -> dict[str, Any]:
    return {
        "seed": config.seed,
        "devices": devices,
        "shard": config.shard,
        "pack_size": config.pack_size,
        "pack_interval_ms": config.pack_interval_ms,
        "image_size": config.image_size,
        "config": asdict(config),
    }


async def run(
    server: Server,
    config: Config,
    trace_path: Path,
    *,
    replay: str = "",
    report: Callable[[str], None] = print,
) -> None:
    """The whole campaign in this process; the trace lands at `trace_path`."""
    plans = fleet_plan(config)
    if replay:
        plans = [plan for plan in plans if plan.name == replay]
        if not plans:
            raise ValueError(f"--replay: no device {replay!r} in this seed's fleet")
    started = time.monotonic()
    trace = TraceWriter(trace_path)
    trace.emit(0.0, "", "run", **run_event(config, len(plans)))
    timed_out = True
    try:
        async with await admin.login(server.url, server.username, server.password) as rest:
            profile = await profile_for(rest, config)
            tokens = await devices_for(rest, config, plans, profile)
            fleet = Fleet(server, config, plans, tokens, trace, started)
            async with fleet.running(report):
                await fleet.wait_idle()
                await assign(rest, config, profile, image_for(config), [t[0] for t in tokens])
                trace.emit(fleet.env.now(), "", "assigned")
                fleet.assigned()
                await fleet.wait_end()
            await fleet.check(rest)
            timed_out = fleet.timed_out
    finally:
        trace.emit(time.monotonic() - started, "", "end", timed_out=timed_out)
        trace.close()


async def _device(device: VirtualDevice, progress: Progress) -> None:
    original = device.emit

    def emit(event: str, **fields: Any) -> None:
        if event == "state":
            progress.states[device.plan.name] = fields["state"]
        original(event, **fields)

    device.emit = emit  # type: ignore[method-assign]
    progress.states[device.plan.name] = "IDLE"
    try:
        await device.run()
    finally:
        progress.ended += 1


async def _tick(fleet: Fleet, report: Callable[[str], None]) -> None:
    while True:
        await asyncio.sleep(5)
        report(fleet.progress.line(fleet.env.now()))
        fleet.env.trace.flush()  # a run stopped by hand still leaves most of its trace


async def profile_for(rest: admin.Admin, config: Config) -> str:
    if config.profile:
        return await rest.find_profile(config.profile)
    if config.tokens_csv:
        raise ValueError("--tokens needs --profile, the profile the operator's devices are in")
    return await rest.create_profile(f"otasim-{config.seed}-{uuid.uuid4().hex[:6]}")


async def assign(
    rest: admin.Admin, config: Config, profile: str, image: bytes, device_ids: list[str]
) -> None:
    if config.assign == "wait":
        await rest.wait_for_assignment(profile, config.timeout_s)
        return
    version = f"{config.seed}-{uuid.uuid4().hex[:8]}"
    package = await rest.upload_package(profile, "otasim", version, image, config.algorithm)
    if config.assign == "devices":
        await rest.assign_to_devices(device_ids, package)
    else:
        await rest.assign_to_profile(profile, package)


@contextlib.asynccontextmanager
async def _links(
    server: Server, config: Config, plans: list[DevicePlan], tokens: list[tuple[str, str]]
) -> AsyncIterator[dict[str, Link]]:
    timeout = config.device.request_timeout
    kind = config.device.kind
    mqtt_host, mqtt_port = _host_port(server.mqtt)
    coap_host, coap_port = _host_port(server.coap)
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    async with contextlib.AsyncExitStack() as stack:
        http = await stack.enter_async_context(
            httpx.AsyncClient(base_url=server.url, limits=limits)
        )
        lossy_base = ""
        if any(plan.fault == "coap_loss" for plan in plans):
            relay = await LossyRelay.start(
                (coap_host, coap_port), config.coap_loss, derived_seed(config.seed, "relay")
            )
            stack.push_async_callback(relay.close)
            lossy_base = f"coap://127.0.0.1:{relay.port}"
        links: dict[str, Link] = {}
        for plan, (_, token) in zip(plans, tokens, strict=True):
            if plan.transport in ("mqtt", "mqtt5"):
                version = 5 if plan.transport == "mqtt5" else 4
                links[plan.name] = MqttLink(mqtt_host, mqtt_port, token, kind, version, timeout)
            elif plan.transport == "http":
                links[plan.name] = HttpLink(http, token, kind, timeout)
            else:
                if plan.fault == "coap_loss":
                    # Retransmission takes its time: aiocoap itself gives up after 93 s.
                    links[plan.name] = CoapLink(lossy_base, token, kind, LOSSY_TIMEOUT_S, 3.0)
                else:
                    links[plan.name] = CoapLink(f"coap://{server.coap}", token, kind, timeout)
        yield links


def _host_port(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host or "localhost", int(port)
