"""Device reports committed in groups: one transaction for the reports of many devices.

During a campaign every device reports each state; one transaction per report made those
reports most of the server's work and starved the queue worker of the database. Here a report
waits while the transaction before it commits, and then goes with every other report that
arrived meanwhile, in one transaction. The caller's await returns only once its report is
committed, so a device is acknowledged only for what is durable. One writer commits the groups
in turn, in arrival order, so a device's reports keep their order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from .orchestration import Report, StatusChange, record_reported
from .ports import Storage


@dataclass
class _Waiting:
    report: Report
    done: asyncio.Future[list[StatusChange]]


class ReportWriter:
    def __init__(self, storage: Storage, max_group: int = 500) -> None:
        self._storage = storage
        self._max_group = max_group  # reports in one transaction, at most
        self._waiting: list[_Waiting] = []
        self._writer: asyncio.Task[None] | None = None

    async def write(self, report: Report) -> list[StatusChange]:
        """Commits the report (with others); its changes of status, once committed."""
        done: asyncio.Future[list[StatusChange]] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(report, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all())
        # Shielded: a caller that goes away (a closed connection) does not cancel the others'
        # transaction; its report is committed all the same.
        return await asyncio.shield(done)

    async def _write_all(self) -> None:
        while self._waiting:
            group = self._waiting[: self._max_group]
            del self._waiting[: self._max_group]
            try:
                await self._commit(group)
            except Exception as error:
                if len(group) == 1:
                    _fail(group[0], error)
                    continue
                # One report may be what failed: each again on its own, so only it fails.
                for waiting in group:
                    try:
                        await self._commit([waiting])
                    except Exception as own:
                        _fail(waiting, own)

    async def _commit(self, group: Sequence[_Waiting]) -> None:
        async with self._storage.transaction() as repos:
            await repos.device_data.save_telemetry_of(
                [(w.report.device_id, w.report.points) for w in group]
            )
            changes = await record_reported(repos, [w.report for w in group])
        for waiting, found in zip(group, changes, strict=True):
            if not waiting.done.done():
                waiting.done.set_result(found)


def _fail(waiting: _Waiting, error: Exception) -> None:
    if not waiting.done.done():
        waiting.done.set_exception(error)
