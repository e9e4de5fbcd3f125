"""The queue worker: tells queued devices of their package at the configured pace (spec §4.3).

A batch of records is handled in one transaction (claim, INITIATED, attributes, done), so a crash
leaves each either untouched or finished: no device is notified twice, none is lost. The pushes go
out once it commits. The pace row's lock makes
the workers of every server process on one database take turns, and the window of recent
notifications is read from the database, so they share one pace.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from uuid import UUID

from ..domain import faults
from ..domain.enums import OtaPackageType, UpdateStatus
from ..domain.errors import OtaError
from ..domain.faults import Fault
from ..domain.model import Device, DeviceProfile, OtaPackage
from ..domain.orchestration import (
    PackRate,
    QueueState,
    all_attribute_keys,
    error_key,
    state_key,
    stuck_error,
)
from ..domain.ota import shared_attributes
from ..domain.rules import effective_package_id
from ..domain.telemetry import AttributeScope, TelemetryPoint
from .orchestration import Orchestrator, Push, StatusChange
from .ports import Clock, QueueEntry, Repositories, Storage, UpdateState

log = logging.getLogger(__name__)
IDLE_POLL_MS = 200
STUCK_CHECK_MS = 1000


@dataclass(frozen=True)
class StuckPolicy:
    """How long a device may stay in a status, in seconds, and how often it is tried again."""

    timeouts: dict[UpdateStatus, int] = field(default_factory=dict)
    max_retries: int = 3


class QueueWorker:
    def __init__(
        self,
        storage: Storage,
        clock: Clock,
        orchestrator: Orchestrator,
        rate: PackRate,
        stuck: StuckPolicy,
        on_notified: Callable[[int], None] = lambda _devices: None,
        batch_size: int = 1000,
    ) -> None:
        self._storage = storage
        self._batch_size = batch_size  # devices notified in one transaction, at most
        self._clock = clock
        self._orchestrator = orchestrator
        self._rate = rate
        self._stuck = stuck
        self._on_notified = on_notified  # counts notifications, for the metrics
        self._next_stuck_check = 0
        self._pack = 0  # devices notified since the queue last had to wait

    async def run(self) -> None:
        paused: str | None = None  # why the worker cannot go on, said once until it can
        while True:
            try:
                if self._stuck.timeouts and self._clock.now_ms() >= self._next_stuck_check:
                    await self.fail_stuck()
                    self._next_stuck_check = self._clock.now_ms() + STUCK_CHECK_MS
                wait_ms = await self.process_next()
                if paused is not None:
                    log.warning("the update queue goes on")
                    paused = None
            except asyncio.CancelledError:
                raise
            except OtaError as error:
                # The world's fault (a full disk), not a bug: one line, not one a second.
                if error.message != paused:
                    log.warning("the update queue waits: %s", error.message)
                    paused = error.message
                wait_ms = 1000
            except Exception:
                log.exception("the update queue worker failed; retrying")
                wait_ms = 1000
            if wait_ms:
                await asyncio.sleep(min(wait_ms, STUCK_CHECK_MS) / 1000)

    async def process_next(self) -> int:
        """Notifies what the pace allows, up to one batch; returns how long to wait, in ms
        (0: go on)."""
        async with self._storage.transaction() as repos:
            await repos.ota.lock_pace()
            now = self._clock.now_ms()
            recent = await repos.ota.notified_since(now - self._rate.interval_ms)
            rate = self._rate
            if faults.active(Fault.PACK_SIZE_EXCEEDED):
                rate = PackRate(rate.size * 2, rate.interval_ms)
            wait = rate.wait_ms(now, recent)
            if wait:
                await self._pack_done(repos)
                return wait
            entries = await repos.ota.next_pending(min(rate.room(now, recent), self._batch_size))
            if not entries:
                await self._pack_done(repos)
                return IDLE_POLL_MS
            notified = await self._notify(repos, entries, now)
        await self._orchestrator.deliver([push for n in notified for push in n.pushes])
        for n in notified:  # logged once committed
            if not n.initiated:
                continue
            log.info(
                "device %r %s: QUEUED -> INITIATED, notified of %r %r",
                n.device_name,
                n.package.type.lower(),
                n.package.title,
                n.package.version,
                extra={"device": n.device_name, "status": UpdateStatus.INITIATED.value},
            )
        if notified:  # stale records notify nobody
            self._pack += len(notified)
            self._on_notified(len(notified))
        return 0

    async def _pack_done(self, repos: Repositories) -> None:
        """The queue waits, for its pace or for work: one line for the devices just notified."""
        if self._pack:
            waiting = await repos.ota.pending_count()
            log.info("update queue pack: %d notified, %d still queued", self._pack, waiting)
            self._pack = 0

    async def _notify(
        self, repos: Repositories, entries: list[QueueEntry], now: int
    ) -> list[_Notified]:
        """INITIATED and the package's attributes for each entry still current; the others are
        skipped. A handful of statements for the whole batch, whatever its size."""
        # Locked: an assignment saved meanwhile either waits for these records or is seen by
        # them, never both read as before and undone after (which would leave stale attributes).
        devices = await repos.devices.get_many([e.device_id for e in entries], lock=True)
        profiles = await repos.profiles.get_many(
            [d.device_profile_id for d in devices.values()], lock=True
        )
        packages = await repos.packages.get_many([e.package_id for e in entries])
        states = await repos.ota.states(list(devices))
        skipped: list[UUID] = []
        notified: list[_Notified] = []
        for entry in entries:
            device = devices.get(entry.device_id)
            profile = None if device is None else profiles.get(device.device_profile_id)
            package = packages.get(entry.package_id)
            state = states.get((entry.device_id, entry.package_type))
            if (
                device is None
                or profile is None
                or package is None
                or _stale(entry, device, profile, package)
            ):
                skipped.append(entry.id)
                continue
            if _reported_since(entry, state, package):
                # No INITIATED, which would undo the device's own report. Its attributes are
                # still written if they do not announce the package yet (the device found it
                # by downloading), so that they never lag its assignment.
                if await _announces(repos, entry.device_id, package):
                    skipped.append(entry.id)
                else:
                    notified.append(_Notified(entry, device.name, package, None, initiated=False))
                continue
            if state is not None and state.package_id == package.id:
                # Seen by the entries after this one in the batch, too.
                state.status, state.status_ts, state.error = UpdateStatus.INITIATED.value, now, None
            notified.append(_Notified(entry, device.name, package, state))
        await repos.ota.finish(skipped, QueueState.SKIPPED, now)
        if not notified:
            return []
        initiated = [
            (
                n.entry.device_id,
                [TelemetryPoint(state_key(n.package.type), now, UpdateStatus.INITIATED.value)],
            )
            for n in notified
            if n.initiated
        ]
        if initiated:
            await repos.device_data.save_telemetry_of(initiated)
        for package_id in {n.package.id for n in notified}:
            of_package = [n for n in notified if n.package.id == package_id]
            package = of_package[0].package
            values = shared_attributes(package)
            stale = [key for key in all_attribute_keys(package.type) if key not in values]
            if faults.active(Fault.STALE_KEYS_KEPT):
                stale = []
            ids = [n.entry.device_id for n in of_package]
            deleted = await repos.device_data.delete_attributes_of(
                ids, AttributeScope.SHARED_SCOPE, stale
            )
            # The attributes carry the assignment's time, as in ThingsBoard.
            for assigned_ts in sorted({n.entry.assigned_ts for n in of_package}):
                await repos.device_data.save_attributes_of(
                    {
                        n.entry.device_id: values
                        for n in of_package
                        if n.entry.assigned_ts == assigned_ts
                    },
                    AttributeScope.SHARED_SCOPE,
                    assigned_ts,
                )
            for n in of_package:
                gone = deleted.get(n.entry.device_id)
                n.pushes = [Push(n.entry.device_id, {"deleted": gone})] if gone else []
                n.pushes.append(Push(n.entry.device_id, values))
        await repos.ota.finish([n.entry.id for n in notified], QueueState.DONE, now)
        await repos.ota.save_states([n.state for n in notified if n.state is not None])
        return notified

    async def fail_stuck(self) -> int:
        """Marks FAILED the devices stuck past their status's timeout, and queues them again."""
        failed = 0
        for status, seconds in self._stuck.timeouts.items():
            now = self._clock.now_ms()
            async with self._storage.reading() as repos:
                stuck = await repos.ota.stuck(status.value, now - seconds * 1000)
            for state in stuck:
                async with self._storage.transaction() as repos:
                    failed += await self._fail(
                        repos, state.device_id, state.package_type, status, seconds, now
                    )
        return failed

    async def _fail(
        self,
        repos: Repositories,
        device_id: UUID,
        kind: OtaPackageType,
        status: UpdateStatus,
        seconds: int,
        now: int,
    ) -> int:
        state = await repos.ota.state(device_id, kind)
        device = await repos.devices.get(device_id)
        if state is None or device is None or state.package_id is None or state.status != status:
            return 0  # it moved on meanwhile
        error = stuck_error(status, seconds)
        await repos.device_data.save_telemetry(
            device_id,
            [
                TelemetryPoint(state_key(kind), now, UpdateStatus.FAILED.value),
                TelemetryPoint(error_key(kind), now, error),
            ],
        )
        StatusChange(kind, state.status, UpdateStatus.FAILED.value, error).log(device.name, log)
        state.status, state.status_ts, state.error = UpdateStatus.FAILED.value, now, error
        await repos.ota.save_state(state)
        package = await repos.packages.get(state.package_id)
        if package is not None and state.retries < self._stuck.max_retries:
            # A millisecond later, so that QUEUED does not overwrite FAILED at the same time.
            await self._orchestrator.requeue(repos, device, package, now + 1, state.retries + 1)
        return 1


@dataclass
class _Notified:
    """A device the worker notified, with what to tell it once the transaction commits."""

    entry: QueueEntry
    device_name: str
    package: OtaPackage
    state: UpdateState | None
    initiated: bool = True  # False: only its attributes were written (it reported already)
    pushes: list[Push] = field(default_factory=list)


def _stale(entry: QueueEntry, device: Device, profile: DeviceProfile, package: OtaPackage) -> bool:
    """The assignment changed while the record waited. Uses none of the pace."""
    if faults.active(Fault.STALE_NOT_SKIPPED):
        return False
    return effective_package_id(device, profile, entry.package_type) != package.id


async def _announces(repos: Repositories, device_id: UUID, package: OtaPackage) -> bool:
    """Whether the device's shared attributes already announce this package, key for key."""
    wanted = shared_attributes(package)
    found = await repos.device_data.attributes(device_id, AttributeScope.SHARED_SCOPE, [*wanted])
    return {a.key: a.value for a in found} == wanted


def _reported_since(entry: QueueEntry, state: UpdateState | None, package: OtaPackage) -> bool:
    """The device reported on this package after the record was queued: a retry of a device
    that was slow, not stuck. Notifying it now would undo what it reported."""
    return (
        state is not None
        and state.package_id == package.id
        and state.status != UpdateStatus.QUEUED.value
        and state.status_ts > entry.created_time
    )
