"""The rules of update orchestration (spec §2.2, §3, §4.3, §8), without storage or clock."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from .enums import OtaPackageType, UpdateStatus
from .model import OtaPackage
from .ota import KEY_SUFFIXES

# The dashboard's progress bar (spec §8).
PROGRESS = {
    UpdateStatus.QUEUED: 0,
    UpdateStatus.INITIATED: 5,
    UpdateStatus.DOWNLOADING: 10,
    UpdateStatus.DOWNLOADED: 55,
    UpdateStatus.VERIFIED: 60,
    UpdateStatus.UPDATING: 70,
    UpdateStatus.FAILED: 99,
    UpdateStatus.UPDATED: 100,
}


class QueueState(StrEnum):
    PENDING = "PENDING"
    DONE = "DONE"  # the device was notified: INITIATED and its attributes written
    SKIPPED = "SKIPPED"  # stale: the device's effective package changed meanwhile


class Tab(StrEnum):
    """The dashboard's tabs: which statuses each one counts."""

    WAITING = "waiting"
    UPDATING = "updating"
    UPDATED = "updated"
    FAILED = "failed"


TAB_OF = {
    UpdateStatus.QUEUED: Tab.WAITING,
    UpdateStatus.INITIATED: Tab.UPDATING,
    UpdateStatus.DOWNLOADING: Tab.UPDATING,
    UpdateStatus.DOWNLOADED: Tab.UPDATING,
    UpdateStatus.VERIFIED: Tab.UPDATING,
    UpdateStatus.UPDATING: Tab.UPDATING,
    UpdateStatus.UPDATED: Tab.UPDATED,
    UpdateStatus.FAILED: Tab.FAILED,
}


def known_status(text: object) -> UpdateStatus | None:
    """The status a device reported, or None for anything else (IDLE, typos): kept, not counted."""
    try:
        return UpdateStatus(text) if isinstance(text, str) else None
    except ValueError:
        return None


# The dashboard table's sortable columns, by their API names; the default is lastChange,
# newest first.
DASHBOARD_SORTS = ("deviceName", "lastChange", "status", "progress", "retries")


def progress(status: str | None) -> int | None:
    known = known_status(status)
    return None if known is None else PROGRESS[known]


def state_key(package_type: OtaPackageType) -> str:
    return f"{package_type.key_prefix}_state"


def error_key(package_type: OtaPackageType) -> str:
    return f"{package_type.key_prefix}_error"


def current_keys(package_type: OtaPackageType) -> tuple[str, str]:
    prefix = package_type.key_prefix
    return f"current_{prefix}_title", f"current_{prefix}_version"


def target_keys(package_type: OtaPackageType) -> tuple[str, str]:
    """The telemetry keys of the package a device was last sent to (written at assignment)."""
    prefix = package_type.key_prefix
    return f"target_{prefix}_title", f"target_{prefix}_version"


def on_target(current_title: object, current_version: object, package: OtaPackage) -> bool:
    """A device already runs the package: the user guide says it is not notified."""
    return (current_title, current_version) == (package.title, package.version)


def queued_telemetry(package: OtaPackage, ts: int) -> dict[str, object]:
    """What assignment writes at once, all at the assignment time (spec §2.2)."""
    prefix = package.type.key_prefix
    values: dict[str, object] = {
        f"target_{prefix}_title": package.title,
        f"target_{prefix}_version": package.version,
        f"target_{prefix}_ts": ts,
        f"{prefix}_state": UpdateStatus.QUEUED.value,
    }
    if package.tag:
        values[f"target_{prefix}_tag"] = package.tag
    return values


def all_attribute_keys(package_type: OtaPackageType) -> list[str]:
    """The nine shared keys that unassignment removes (spec §2.1)."""
    return [f"{package_type.key_prefix}_{suffix}" for suffix in KEY_SUFFIXES]


@dataclass(frozen=True)
class PackRate:
    """At most `size` notifications in any `interval_ms` (a sliding window, shared by processes).

    The recent notifications are given as (time, devices notified at that time): a pack is
    notified at one time.
    """

    size: int
    interval_ms: int

    def _window(self, now_ms: int, recent: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
        return sorted((ts, count) for ts, count in recent if ts > now_ms - self.interval_ms)

    def room(self, now_ms: int, recent: Sequence[tuple[int, int]]) -> int:
        """How many devices may be notified now."""
        return max(0, self.size - sum(count for _, count in self._window(now_ms, recent)))

    def wait_ms(self, now_ms: int, recent: Sequence[tuple[int, int]]) -> int:
        """How long to wait before one more device may be notified."""
        window = self._window(now_ms, recent)
        excess = sum(count for _, count in window) - self.size + 1
        for ts, count in window:
            if excess <= 0:
                break
            excess -= count
            if excess <= 0:
                # Enough of the window's oldest notifications have left it by then.
                return ts + self.interval_ms - now_ms
        return 0


def stuck_error(status: UpdateStatus, seconds: int) -> str:
    return f"stuck in {status.value} for more than {seconds} s"
