"""One load-test device: otaclient's Updater and Agent (what real devices run) on a gevent link,
its steps reported as Locust events.

The Agent carries out the updater's actions one after another on the link; the link answers at
once (it blocks this device's greenlet only), so a whole download runs inside one `handle` call.
The image is checked as it arrives by the updater's own digest; only its length is kept.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from otaclient import protocol as p
from otaclient.agent import Agent
from otaclient.updater import REQUEST_ATTRIBUTES, Updater

from otaload.links import Link
from otaload.metrics import (
    CHUNK,
    CONNECT,
    NOTIFY,
    RECONNECT,
    TELEMETRY,
    UPDATE,
    UPDATED,
    VERIFIED,
    OtaFailure,
    Reporter,
    cause_of_error,
    now_ms,
)

INITIAL_TITLE, INITIAL_VERSION = "Initial", "v0"


class CountingStore:
    """The device's flash, as far as a load test needs it: the length written, no bytes."""

    def __init__(self) -> None:
        self.length = 0

    def write(self, offset: int, data: bytes) -> None:
        if offset != self.length:
            raise ValueError(f"write at {offset}, {self.length} bytes stored")
        self.length += len(data)

    def read(self, offset: int, length: int) -> bytes:
        raise ValueError("a load-test device keeps no image to read back")

    def discard(self) -> None:
        self.length = 0

    def save_progress(self, progress: dict[str, Any] | None) -> None:
        pass  # a load-test device does not reboot: nothing to resume from


class InstantInstaller:
    def install(self, target: dict[str, Any], store: Any) -> tuple[bool, str | None]:
        return True, None


class Transport:
    """The Agent's transport: the link's calls, timed and reported."""

    def __init__(self, device: OtaDevice) -> None:
        self.device = device

    def send_telemetry(self, values: dict[str, Any]) -> None:
        try:
            self.device.link.send_telemetry(values)
        except OtaFailure:
            self.device.unsent.append(values)  # a state report is sent again once reconnected
            raise

    def request_attributes(self, keys: list[str]) -> None:
        shared = self.device.link.request_attributes(keys)
        self.device.agent.attributes(shared)  # the Agent queues what it answers

    def request_chunk(self, index: int, size: int) -> bytes:
        device = self.device
        target = device.updater.target
        started = time.perf_counter()
        data = device.link.request_chunk(target, index, size)
        device.reporter.success(CHUNK, (time.perf_counter() - started) * 1000, len(data))
        if device.download_started is None:
            device.download_started = started
        return data


class OtaDevice:
    """A device that connects, learns of a package (push or request), downloads it in chunks,
    verifies it and reports each state, as real ones do.

    `assigned_at` gives the operator's assignment time (wall clock, ms; None while unknown),
    from which notification latency and time to UPDATED are measured.
    """

    def __init__(
        self,
        link: Link,
        reporter: Reporter,
        kind: str,
        chunk_size: int,
        assigned_at: Callable[[], float | None] = lambda: None,
        on_push: Callable[[float], None] = lambda _t: None,
    ) -> None:
        self.link, self.reporter, self.kind = link, reporter, kind
        self.assigned_at, self.on_push = assigned_at, on_push
        self.updater = Updater(kind, INITIAL_TITLE, INITIAL_VERSION, chunk_size)
        self.agent = Agent(
            self.updater, Transport(self), CountingStore(), InstantInstaller(), self._state
        )
        self.connected = False
        self.notified_at: float | None = None  # wall ms of the push that announced the target
        self.notify_pending = False  # that push's latency is not reported yet
        self.download_started: float | None = None
        self.outcome: str | None = None  # UPDATED or FAILED, once reached
        self.last_poll = time.monotonic()  # the latest attribute request of an idle device
        self.unsent: list[dict[str, Any]] = []  # reports a dropped connection failed to send

    # ---- connection ----------------------------------------------------------------------

    def connect(self, reconnect: bool = False) -> None:
        """Connects; the time (or the failure) is reported as connect or reconnect."""
        name = RECONNECT if reconnect else CONNECT
        started = time.perf_counter()
        try:
            self.link.connect()
        except OtaFailure as failure:
            self.reporter.failure(name, (time.perf_counter() - started) * 1000, failure)
            raise
        self.reporter.success(name, (time.perf_counter() - started) * 1000)
        self.connected = True
        try:
            if reconnect:
                unsent, self.unsent = self.unsent, []
                for values in unsent:
                    self.agent.transport.send_telemetry(values)
                self.agent.handle(self.updater.reconnected())
            else:
                self.agent.handle(self.updater.start())
        except OtaFailure as failure:  # the first requests on the new connection
            self.reporter.failure(UPDATE, 0, failure)
            raise

    def drop(self) -> None:
        """The connection breaks under the device (a request in flight fails as CLOSED)."""
        self.connected = False
        self.link.abort()

    def close(self) -> None:
        self.connected = False
        self.link.close()

    # ---- work ----------------------------------------------------------------------------

    def listen(self, timeout: float) -> bool:
        """Waits up to `timeout` s for a push and acts on it; True if one came."""
        self._report_notify()
        push = self.link.next_push(timeout)
        if push is None:
            self._poll_when_idle()
            return False
        before = self.updater.announced()
        received = now_ms()
        # The updater reads the push first; the agent then runs the whole download at once:
        # the notification is reported before it (in time, and even if the download fails).
        actions = self.updater.attributes(push)
        announced = self.updater.announced()
        if announced is not None and announced != before:
            self.notified_at = received
            self.notify_pending = True
            self.on_push(received)
            self._report_notify()
        self.agent.handle(actions)
        return True

    def _report_notify(self) -> None:
        """The notification's latency, once the assignment's time is known here: a push can
        come before it does (while the operator's POST is still in flight, or its time still on
        its way from the master), and is then reported by a later listen."""
        assigned = self.assigned_at()
        if self.notify_pending and self.notified_at is not None and assigned is not None:
            self.notify_pending = False
            self.reporter.success(NOTIFY, self.notified_at - assigned)

    def _poll_when_idle(self) -> None:
        """Where a push can be missed, an idle device asks for its attributes now and then."""
        every = self.link.idle_poll_s
        if every is None or self.busy or self.outcome is not None:
            return
        now = time.monotonic()
        if now - self.last_poll >= every:
            self.last_poll = now
            self.agent.handle([(REQUEST_ATTRIBUTES, p.target_keys(self.kind))])

    def retry_due(self) -> None:
        """After a failed request: the updater's backoff, then its retry."""
        self.agent.handle(self.updater.tick(time.monotonic() * 1000))

    def failed_request(self) -> None:
        """A request failed: the updater's backoff decides when to try again."""
        self.agent.failed(time.monotonic() * 1000, random.random())

    def report(self, values: dict[str, Any]) -> None:
        started = time.perf_counter()
        self.link.send_telemetry(values)
        self.reporter.success(TELEMETRY, (time.perf_counter() - started) * 1000)

    @property
    def finished(self) -> bool:
        return self.outcome is not None

    @property
    def busy(self) -> bool:
        """Told of a package and not yet done with it."""
        return self.updater.state not in (p.IDLE, p.UPDATED, p.FAILED)

    def _since_told_ms(self) -> float:
        """From the assignment (or, while its time is unknown here, the push) until now."""
        now = now_ms()
        return now - (self.assigned_at() or self.notified_at or now)

    def _state(self, state: str, telemetry: dict[str, Any]) -> None:
        size = (self.updater.target or {}).get("size") or 0
        if state == p.VERIFIED:
            started = self.download_started or time.perf_counter()
            self.reporter.success(VERIFIED, (time.perf_counter() - started) * 1000, size)
        elif state == p.UPDATED:
            self.outcome = state
            self.reporter.success(UPDATED, self._since_told_ms(), size)
        elif state == p.FAILED:
            self.outcome = state
            error = str(telemetry.get(p.error_key(self.kind), "FAILED"))
            failure = OtaFailure(cause_of_error(error), error)
            self.reporter.failure(UPDATE, self._since_told_ms(), failure)
        elif state == p.DOWNLOADING:
            self.download_started = None
