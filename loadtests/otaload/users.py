"""Locust's device users, one per transport: each is one device of the fleet, with one socket
and no thread of its own (its greenlet, and for MQTT and CoAP one reader greenlet).

Each scenario is a Locust tag on their task (the operator's tasks carry the same tags):

    steady    connected devices send telemetry; the operator gives a share of them the package
    campaign  devices wait connected; the operator assigns the package to their profile
    storm     the campaign, and shortly after the assignment every device drops and reconnects
    waves     the package is assigned first; devices come online in steps (otaload.shapes)
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import gevent
from locust import FastHttpUser, User, constant, tag, task
from otaclient import protocol as p

from otaload.device import OtaDevice
from otaload.links import CoapLink, HttpLink, Link, MqttLink
from otaload.metrics import UPDATE, Cause, OtaFailure, Reporter
from otaload.options import CAMPAIGN, STEADY, STORM, WAVES
from otaload.run import RUN

LISTEN_S = 1.0  # a device checks for a push this long at a time: storms and stops act between
KINDS = {"FIRMWARE": p.FIRMWARE, "SOFTWARE": p.SOFTWARE}
_sources: itertools.cycle[str] | None = None


def source_address(options: Any) -> tuple[str, int] | None:
    """The next local IP of --source-addresses, in turn (None: the system's choice)."""
    global _sources
    if not options.source_addresses:
        return None
    if _sources is None:
        _sources = itertools.cycle(a.strip() for a in options.source_addresses.split(",") if a)
    return (next(_sources), 0)


class DeviceUser(User):
    """One device: connects in on_start, then acts on pushes until the run ends."""

    abstract = True
    wait_time = constant(0)

    def on_start(self) -> None:
        options = self.environment.parsed_options
        self.options = options
        self.device_id, token = RUN.take_device()
        self.kind = KINDS[options.package_type]
        self.link = self.make_link(token)
        self.device = OtaDevice(
            self.link,
            Reporter(self.environment.events, self.link.transport),
            self.kind,
            options.chunk_size,
            RUN.assigned_at,
            self._pushed,
        )
        self.told = self.counted = False
        self.storm_pending = False
        self.next_telemetry = time.monotonic()
        RUN.storm_listeners.add(self)
        try:
            self._connect(reconnect=False)
        finally:
            RUN.note(ready=1)  # even refused: the operator waits for every device, not for ever

    def make_link(self, token: str) -> Link:
        raise NotImplementedError

    def on_stop(self) -> None:
        RUN.storm_listeners.discard(self)
        if getattr(self, "device", None) is not None:
            self.device.close()

    def storm(self) -> None:
        """Every device drops its connection at once (the storm scenario)."""
        self.storm_pending = True
        self.device.drop()

    # ---- the scenarios -------------------------------------------------------------------

    @tag(CAMPAIGN, STORM, WAVES)
    @task
    def update(self) -> None:
        self._step()

    @tag(STEADY)
    @task
    def steady(self) -> None:
        if time.monotonic() >= self.next_telemetry and self.device.connected:
            self.next_telemetry += self.options.telemetry_interval_s
            self._guarded(lambda: self.device.report({"temperature": 21.5, "uptime": time.time()}))
        self._step()

    # ---- one step ------------------------------------------------------------------------

    def _step(self) -> None:
        device = self.device
        if not device.connected:
            self._connect(reconnect=True)
            return
        self._guarded(device.retry_due)
        if device.connected:
            self._guarded(lambda: device.listen(LISTEN_S))
        self._tally()

    def _guarded(self, work: Any) -> None:
        """Runs a device step; a failed request drops the connection, reported by cause."""
        try:
            work()
        except OtaFailure as failure:
            self._lost(failure)

    def _lost(self, failure: OtaFailure) -> None:
        self.device.drop()
        self.device.agent.interrupted()
        if self.storm_pending:
            return  # the storm's own doing: it is measured as the reconnect
        self.device.reporter.failure(UPDATE, 0, failure)
        self.device.failed_request()

    def _connect(self, reconnect: bool) -> None:
        updater = self.device.updater
        if not self.storm_pending and updater.retry_at is not None:
            gevent.sleep(max(0.0, updater.retry_at / 1000 - time.monotonic()))
        updater.retry_at = None
        storm, self.storm_pending = self.storm_pending, False
        try:
            self.device.connect(reconnect=reconnect or storm)
        except OtaFailure as failure:  # reported by connect()
            self.device.drop()
            self.device.agent.interrupted()
            if failure.cause == Cause.REFUSED and not reconnect:
                raise  # a refused token is the run's setup, not load: stop this user loudly
            self.device.failed_request()
        self._tally()

    def _pushed(self, at_ms: float) -> None:
        RUN.note_push(at_ms)

    def _tally(self) -> None:
        device = self.device
        if not self.told and device.updater.announced() is not None:
            self.told = True
            RUN.note(told=1)
        if device.outcome is not None and not self.counted:
            self.counted = True
            RUN.note(
                updated=int(device.outcome == p.UPDATED), failed=int(device.outcome == p.FAILED)
            )


class MqttDevice(DeviceUser):
    """A device on MQTT 3.1.1."""

    version = 4

    def make_link(self, token: str) -> Link:
        host, port = fleet_address("mqtt")
        return MqttLink(
            host,
            port,
            token,
            self.kind,
            version=self.version,
            timeout=self.options.request_timeout,
            source=source_address(self.options),
        )


class Mqtt5Device(MqttDevice):
    """A device on MQTT 5."""

    version = 5


class CoapDevice(DeviceUser):
    """A device on CoAP: pushes by Observe, chunks by request."""

    def make_link(self, token: str) -> Link:
        host, port = fleet_address("coap")
        return CoapLink(
            host,
            port,
            token,
            self.kind,
            timeout=self.options.request_timeout,
            source=source_address(self.options),
        )


class HttpDevice(FastHttpUser, DeviceUser):
    """A device on HTTP, Locust's FastHttpUser: long polls for pushes."""

    abstract = False
    wait_time = constant(0)

    def __init__(self, environment: Any) -> None:
        # Before FastHttpUser's __init__, which builds the client with it: set after, it was
        # never read, and every request waited Locust's default 60 s.
        self.network_timeout = environment.parsed_options.request_timeout + LISTEN_S
        super().__init__(environment)

    def make_link(self, token: str) -> Link:
        return HttpLink(self.client, token, self.kind, timeout=self.options.request_timeout)


def fleet_address(which: str) -> tuple[str, int]:
    fleet = RUN.fleet
    if fleet is None:
        raise RuntimeError("no fleet")
    host, port = fleet.mqtt if which == "mqtt" else fleet.coap
    return host, port
