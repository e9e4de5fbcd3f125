"""Assignments become queued notifications (spec §4.2): QUEUED at once, INITIATED by the worker."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

from ..domain import faults
from ..domain.enums import OtaPackageType, UpdateStatus
from ..domain.faults import Fault
from ..domain.model import Device, DeviceProfile, OtaPackage
from ..domain.orchestration import (
    all_attribute_keys,
    current_keys,
    error_key,
    on_target,
    queued_telemetry,
    state_key,
)
from ..domain.rules import effective_package_id
from ..domain.telemetry import AttributeScope, TelemetryPoint
from .ports import Clock, Notifier, QueueEntry, Repositories, UpdateState

log = logging.getLogger(__name__)
# The longest status or error text of a device's that goes into a log line.
MAX_LOGGED = 200


@dataclass(frozen=True)
class Push:
    """An attribute update for a device's live sessions, sent once its transaction commits."""

    device_id: UUID
    update: dict[str, Any]


class Orchestrator:
    def __init__(self, clock: Clock, notifier: Notifier) -> None:
        self._clock = clock
        self._notifier = notifier

    async def deliver(self, pushes: list[Push]) -> None:
        await self._notifier.publish_many([(p.device_id, p.update) for p in pushes if p.update])

    async def device_saved(
        self,
        repos: Repositories,
        before: tuple[Device, DeviceProfile] | None,
        after: tuple[Device, DeviceProfile],
    ) -> list[Push]:
        """A device was created, assigned, unassigned or moved to another profile."""
        pushes: list[Push] = []
        now = self._clock.now_ms()
        for package_type in OtaPackageType:
            old = effective_package_id(*before, package_type) if before else None
            new = effective_package_id(*after, package_type)
            changed = new != old or faults.active(Fault.REQUEUED_UNCHANGED)
            if new is not None and changed:
                package = await repos.packages.get(new)
                if package is not None:
                    queued = await self._send(repos, [after[0]], package, now)
                    log.info(
                        "%s assigned to device %r: %s queued",
                        _package(package),
                        after[0].name,
                        _devices(queued),
                    )
            elif new is None and old is not None:
                pushes += await self._remove(repos, [after[0]], package_type)
                log.info("%s unassigned from device %r", package_type.lower(), after[0].name)
        return pushes

    async def profile_saved(
        self, repos: Repositories, before: DeviceProfile, after: DeviceProfile
    ) -> list[Push]:
        """A profile's package changed: its devices without their own assignment follow it."""
        pushes: list[Push] = []
        now = self._clock.now_ms()
        for package_type in OtaPackageType:
            old, new = before.package_id(package_type), after.package_id(package_type)
            if old == new:
                continue
            package = None if new is None else await repos.packages.get(new)
            own = "firmware_id" if package_type is OtaPackageType.FIRMWARE else "software_id"
            devices = await repos.devices.find(device_profile_id=after.id, **{own: None})
            queued = 0
            if package is not None:
                queued = await self._send(repos, devices, package, now)
            else:
                pushes += await self._remove(repos, devices, package_type)
            if package is not None:
                log.info(
                    "%s assigned to profile %r: %s queued",
                    _package(package),
                    after.name,
                    _devices(queued),
                )
            else:
                log.info(
                    "%s unassigned from profile %r: %s follow it",
                    package_type.lower(),
                    after.name,
                    _devices(len(devices)),
                )
        return pushes

    async def _send(
        self, repos: Repositories, devices: Sequence[Device], package: OtaPackage, ts: int
    ) -> int:
        """Queues the devices for the package, but those on it already; says how many."""
        ids = [device.id for device in devices]
        title_key, version_key = current_keys(package.type)
        current = await repos.device_data.latest_telemetry_of(ids, [title_key, version_key])
        states = await repos.ota.states(ids)
        queued: list[tuple[Device, int]] = []
        for device in devices:
            title, version = (current.get(device.id, {}).get(k) for k in (title_key, version_key))
            if on_target(title and title.value, version and version.value, package):
                continue  # the user guide: a device already on the package is not notified
            state = states.get((device.id, package.type))
            retries = state.retries if state is not None and state.package_id == package.id else 0
            queued.append((device, retries))
        await self._queue(repos, queued, package, ts)
        return len(queued)

    async def requeue(
        self, repos: Repositories, device: Device, package: OtaPackage, ts: int, retries: int
    ) -> None:
        await self._queue(repos, [(device, retries)], package, ts)

    async def _queue(
        self,
        repos: Repositories,
        devices: Sequence[tuple[Device, int]],
        package: OtaPackage,
        ts: int,
    ) -> None:
        """QUEUED and the target telemetry now, and a queue entry for the worker, for each
        (device, retries so far)."""
        points = [
            TelemetryPoint(key, ts, value) for key, value in queued_telemetry(package, ts).items()
        ]
        if not faults.active(Fault.NO_QUEUED_TELEMETRY):
            await repos.device_data.save_telemetry_of(
                [(device.id, points) for device, _ in devices]
            )
        created = self._clock.now_ms()
        await repos.ota.enqueue(
            [
                QueueEntry(
                    id=uuid4(),
                    tenant_id=device.tenant_id,
                    device_id=device.id,
                    package_id=package.id,
                    package_type=package.type,
                    assigned_ts=ts,
                    created_time=created,
                )
                for device, _ in devices
            ]
        )
        await repos.ota.save_states(
            [
                UpdateState(
                    device_id=device.id,
                    package_type=package.type,
                    tenant_id=device.tenant_id,
                    package_id=package.id,
                    status=UpdateStatus.QUEUED.value,
                    status_ts=ts,
                    error=None,
                    retries=retries,
                )
                for device, retries in devices
            ]
        )

    async def _remove(
        self, repos: Repositories, devices: Sequence[Device], package_type: OtaPackageType
    ) -> list[Push]:
        ids = [device.id for device in devices]
        keys = all_attribute_keys(package_type)
        await repos.device_data.delete_attributes_of(ids, AttributeScope.SHARED_SCOPE, keys)
        states = await repos.ota.states(ids)
        untargeted = [s for s in states.values() if s.package_type == package_type]
        for state in untargeted:
            state.package_id = None
        await repos.ota.save_states(untargeted)
        # As ThingsBoard: every key of the type is announced deleted, present or not.
        if faults.active(Fault.NO_DELETED_PUSH):
            return []
        return [Push(device_id, {"deleted": keys}) for device_id in ids]


@dataclass(frozen=True)
class StatusChange:
    """A device's update status moved: logged once its transaction is committed."""

    package_type: OtaPackageType
    before: str
    after: str
    error: str | None = None

    def log(self, device_name: str, logger: logging.Logger = log) -> None:
        error = f": {_shown(self.error)}" if self.error else ""
        logger.info(
            "device %r %s: %s -> %s%s",
            device_name,
            self.package_type.lower(),
            _shown(self.before) if self.before else "(none)",
            _shown(self.after),
            error,
            extra={"device": device_name, "status": self.after},
        )


def _shown(text: str) -> str:
    """A device's text as a log line may hold it: one line, not too long."""
    text = text if len(text) <= MAX_LOGGED else text[:MAX_LOGGED] + "..."
    return text if text.isprintable() else repr(text)


def _devices(count: int) -> str:
    return f"{count} device" if count == 1 else f"{count} devices"


def _package(package: OtaPackage) -> str:
    return f"{package.type.lower()} {package.title!r} {package.version!r}"


@dataclass(frozen=True)
class Report:
    """Telemetry one device posted: its points, with the server's time where it gave none."""

    device_id: UUID
    tenant_id: UUID
    points: Sequence[TelemetryPoint]


async def record_reported(
    repos: Repositories, reports: Sequence[Report]
) -> list[list[StatusChange]]:
    """Keeps devices' own `fw_state`/`sw_state` reports as their update states, in the order
    given, and returns each report's changes of status, to be logged.

    Every string is kept (IDLE, unknown ones, repeats); only the newest report counts, so
    telemetry that arrives late with an old timestamp changes nothing.
    """
    states = await repos.ota.states(list({report.device_id for report in reports}))
    changed: dict[tuple[UUID, OtaPackageType], UpdateState] = {}
    result: list[list[StatusChange]] = []
    for report in reports:
        changes: list[StatusChange] = []
        for package_type in OtaPackageType:
            key = (report.device_id, package_type)
            old = states.get(key)
            state = _reported(report, package_type, old)
            if state is None:
                continue
            states[key] = changed[key] = state
            before = "" if old is None else old.status
            if state.status != before:
                changes.append(StatusChange(package_type, before, state.status, state.error))
        result.append(changes)
    await repos.ota.save_states(list(changed.values()))
    return result


def _reported(
    report: Report, package_type: OtaPackageType, state: UpdateState | None
) -> UpdateState | None:
    """The device's state after this report, or None when the report does not change it."""
    reports = [p for p in report.points if p.key == state_key(package_type)]
    if not reports:
        return None
    latest = max(reports, key=lambda p: p.ts)
    if state is not None and state.status_ts > latest.ts:
        return None
    errors = [p for p in report.points if p.key == error_key(package_type) and p.ts == latest.ts]
    return UpdateState(
        device_id=report.device_id,
        package_type=package_type,
        tenant_id=report.tenant_id if state is None else state.tenant_id,
        package_id=None if state is None else state.package_id,
        status=str(latest.value)[:64],
        status_ts=latest.ts,
        error=str(errors[-1].value) if errors else None,
        retries=0 if state is None else state.retries,
    )
