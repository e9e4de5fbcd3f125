"""What an operator's monitoring reads about the fleet: counts only, over every tenant."""

from __future__ import annotations

from dataclasses import dataclass

from ..domain.enums import OtaPackageType, UpdateStatus
from .ports import Storage

# Devices report their status as free text; anything outside the eight statuses is counted
# under this one name, so a device cannot make up names without end.
OTHER_STATUS = "OTHER"


@dataclass(frozen=True)
class FleetCounts:
    queue_depth: int  # devices QUEUED, waiting for the update queue
    # (package type, status) -> devices: every type and status present, zero included.
    statuses: dict[tuple[OtaPackageType, str], int]


class Monitoring:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    async def fleet_counts(self) -> FleetCounts:
        async with self._storage.reading() as repos:
            pending = await repos.ota.pending_count()
            found = await repos.ota.status_counts()
        known = {status.value for status in UpdateStatus}
        statuses = {
            (kind, status): 0
            for kind in OtaPackageType
            for status in (*(s.value for s in UpdateStatus), OTHER_STATUS)
        }
        for (kind, status), devices in found.items():
            statuses[kind, status if status in known else OTHER_STATUS] += devices
        return FleetCounts(pending, statuses)
