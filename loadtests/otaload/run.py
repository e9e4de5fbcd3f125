"""What the processes of one run share, and the messages that carry it.

The master (or the only process) prepares the fleet and hands each worker its share. The
operator's assignment time, the go signal and the storm go to every process: a worker sends them
to the master, which relays them to all workers (Locust's custom messages); a lone process hears
its own. Workers send their counts and push times back in Locust's periodic reports.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import gevent
import gevent.event
from locust.runners import LocalRunner, MasterRunner, WorkerRunner

from otaload.fleet import Fleet

log = logging.getLogger("otaload")

FLEET, ASSIGNED, GO, STORM = "otaload_fleet", "otaload_assigned", "otaload_go", "otaload_storm"
RELAYED = (ASSIGNED, GO, STORM)
REPORT_KEY = "otaload"
WAIT_S = 600.0
READY_POLL_S = 0.2  # the longest a user waits for the fleet or the go signal


@dataclass
class Tally:
    """Per process: devices told of the package, done with it, and push arrival times (wall ms)."""

    ready: int = 0  # connected, and told what runs on them and what should
    told: int = 0
    updated: int = 0
    failed: int = 0
    pushes: list[float] = field(default_factory=list)

    def add(self, data: dict[str, Any]) -> None:
        self.ready += int(data.get("ready", 0))
        self.told += int(data.get("told", 0))
        self.updated += int(data.get("updated", 0))
        self.failed += int(data.get("failed", 0))
        self.pushes += [float(t) for t in data.get("pushes", [])]

    def take(self) -> dict[str, Any]:
        """The counts since the last take (a worker's report), reset."""
        data: dict[str, Any] = {"ready": self.ready, "told": self.told}
        data.update(updated=self.updated, failed=self.failed, pushes=self.pushes)
        self.ready = self.told = self.updated = self.failed = 0
        self.pushes = []
        return data


class Run:
    """This process's view of the run."""

    def __init__(self) -> None:
        self.fleet: Fleet | None = None
        self.fleet_at: float | None = None  # time.perf_counter() when it arrived
        self.fleet_ready = gevent.event.Event()
        self.go = gevent.event.Event()
        self.go_planned = False  # the master (or lone process) has planned the go signal
        self.assigned_ms: float | None = None
        self.expected = 0  # devices the assignment targets
        self.storm_listeners: set[Any] = set()  # devices to drop in a storm
        self.next_device = 0
        self.part = (0, 1)  # this process's share of the fleet: (part, parts)
        self.on_fleet: list[Any] = []  # called with the fleet when it arrives
        self.tally = Tally()  # this process's, not yet reported
        self.total = Tally()  # the master's (or a lone process's) sum

    def take_device(self) -> tuple[str, str]:
        """The next (device id, token) of this process's share."""
        if not self.fleet_ready.wait(WAIT_S) or self.fleet is None:
            raise RuntimeError("no fleet arrived from the master")
        devices = self.fleet.share(*self.part)
        if self.next_device >= len(devices):
            raise RuntimeError(
                f"more device users than the {len(devices)} devices of this process's share: "
                "raise --devices"
            )
        self.next_device += 1
        return devices[self.next_device - 1]

    def assigned_at(self) -> float | None:
        return self.assigned_ms

    def note(self, *, ready: int = 0, told: int = 0, updated: int = 0, failed: int = 0) -> None:
        self.tally.ready += ready
        self.tally.told += told
        self.tally.updated += updated
        self.tally.failed += failed

    def note_push(self, at_ms: float) -> None:
        self.tally.pushes.append(at_ms)

    def apply(self, kind: str, data: Any) -> None:
        if kind == FLEET:
            self.fleet = Fleet.from_message(data["fleet"])
            self.part = (int(data["part"]), int(data["parts"]))
            for listener in self.on_fleet:
                listener(self.fleet)
            self.fleet_at = time.perf_counter()
            self.fleet_ready.set()
        elif kind == ASSIGNED:
            self.assigned_ms, self.expected = float(data["at"]), int(data["expected"])
        elif kind == GO:
            self.go.set()
        elif kind == STORM:
            for device in list(self.storm_listeners):
                device.storm()


RUN = Run()  # one run per process: Locust's headless runs start once


def broadcast(runner: Any, kind: str, data: Any = None) -> None:
    """To every process of the run: a worker's goes through the master."""
    if isinstance(runner, WorkerRunner | MasterRunner):
        runner.send_message(kind, data)
    else:
        RUN.apply(kind, data)


def register(runner: Any) -> None:
    """Locust's `init`: this process's message handlers and report hooks."""
    events = runner.environment.events
    if isinstance(runner, MasterRunner):
        for kind in RELAYED:
            runner.register_message(kind, _relay(runner, kind))

        def worker_report(client_id: str, data: dict[str, Any]) -> None:
            RUN.total.add(data.get(REPORT_KEY, {}))

        events.worker_report.add_listener(worker_report)
        return
    for kind in (FLEET, *RELAYED):
        runner.register_message(kind, _apply(kind))
    if isinstance(runner, WorkerRunner):

        def report_to_master(client_id: str, data: dict[str, Any]) -> None:
            data[REPORT_KEY] = RUN.tally.take()

        events.report_to_master.add_listener(report_to_master)


def counts(runner: Any) -> Tally:
    """The run's sum so far, on the master or a lone process."""
    if not isinstance(runner, MasterRunner):
        RUN.total.add(RUN.tally.take())
    return RUN.total


def _relay(runner: Any, kind: str) -> Any:
    def relay(environment: Any, msg: Any, **_: Any) -> None:
        RUN.apply(kind, msg.data)
        runner.send_message(kind, msg.data)

    return relay


def _apply(kind: str) -> Any:
    def apply(environment: Any, msg: Any, **_: Any) -> None:
        RUN.apply(kind, msg.data)

    return apply


def hand_out(runner: Any, fleet: Fleet) -> None:
    """The master gives each worker its share; a lone process keeps it all."""
    if isinstance(runner, MasterRunner):
        workers = sorted(runner.clients.keys())
        whole = fleet.as_message()
        for part, worker in enumerate(workers):
            message = {"fleet": whole, "part": part, "parts": len(workers)}
            runner.send_message(FLEET, message, worker)
        RUN.fleet, RUN.fleet_at = fleet, time.perf_counter()
        RUN.fleet_ready.set()
    elif isinstance(runner, LocalRunner):
        RUN.apply(FLEET, {"fleet": fleet.as_message(), "part": 0, "parts": 1})


def signal_go_after(runner: Any, devices: int, settle_s: float) -> None:
    """Every user is spawned: once `devices` are ready (or WAIT_S has passed), and `settle_s`
    after, the operator may assign."""

    def later() -> None:
        deadline = time.monotonic() + WAIT_S
        while counts(runner).ready < devices and time.monotonic() < deadline:
            gevent.sleep(READY_POLL_S)
        if counts(runner).ready < devices:
            log.warning("otaload: %d of %d devices ready; going on", counts(runner).ready, devices)
        gevent.sleep(settle_s)
        broadcast(runner, GO)
        if isinstance(runner, MasterRunner):
            RUN.go.set()

    gevent.spawn(later)
