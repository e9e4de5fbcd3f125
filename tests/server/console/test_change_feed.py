"""The change feed hears committed update-state saves, and only those."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from otaserver.domain.enums import Authority, OtaPackageType
from otaserver.services import changes as changes_module
from otaserver.services.access import Principal
from otaserver.services.bootstrap import seed_demo
from otaserver.services.changes import ChangeFeed
from otaserver.services.dashboard import Dashboard, Filters
from otaserver.services.dashboard_live import LiveDashboard
from otaserver.services.passwords import Passwords
from otaserver.services.ports import UpdateState
from otaserver.settings import load_settings
from otaserver.storage.database import create_engine, migrate
from otaserver.storage.repositories import SqlStorage

FIRMWARE, SOFTWARE = OtaPackageType.FIRMWARE, OtaPackageType.SOFTWARE


class Clock:
    def now_ms(self) -> int:
        return 1_000


def test_only_committed_saves_are_published(tmp_path: Path) -> None:
    async def run() -> None:
        feed = ChangeFeed()
        engine = create_engine(
            load_settings({"data_dir": str(tmp_path)}, {}).effective_database_url
        )
        await migrate(engine)
        storage = SqlStorage(engine, on_commit=feed.committed)
        await seed_demo(storage, Clock(), Passwords())
        async with storage.reading() as repos:
            device = (await repos.devices.find())[0]
        tenant_id = device.tenant_id
        firmware = feed.subscribe(tenant_id, FIRMWARE)
        software = feed.subscribe(tenant_id, SOFTWARE)
        forwarded: list[object] = []
        feed.forward_to(forwarded.append)

        def state(status: str) -> UpdateState:
            return UpdateState(device.id, FIRMWARE, tenant_id, None, status, 5, None, 0)

        with pytest.raises(RuntimeError):
            async with storage.transaction() as repos:
                await repos.ota.save_states([state("DOWNLOADING")])
                raise RuntimeError("rolled back")
        assert firmware.take() == (set(), False) and forwarded == []

        async with storage.transaction() as repos:
            await repos.ota.save_states([state("DOWNLOADING")])
            await repos.ota.save_state(state("DOWNLOADED"))
            assert firmware.pending == set()  # not before the commit
        await asyncio.wait_for(firmware.wait(), 1)
        assert firmware.take() == ({device.id}, False)
        assert software.take() == (set(), False)
        assert forwarded == [{(tenant_id, FIRMWARE): {device.id}}]

        async with storage.transaction() as repos:  # no state saved: nothing to tell
            await repos.devices.find()
        assert len(forwarded) == 1
        await engine.dispose()

    asyncio.run(run())


def test_subscriptions_hear_their_tenant_and_type_and_stop_when_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(changes_module, "MAX_PENDING", 3)
    feed = ChangeFeed()
    ours, theirs = uuid.uuid4(), uuid.uuid4()
    devices = [uuid.uuid4() for _ in range(5)]
    with feed.subscribe(ours, FIRMWARE) as mine:
        feed.committed({(theirs, FIRMWARE): devices, (ours, SOFTWARE): devices})
        assert mine.take() == (set(), False)
        feed.committed({(ours, FIRMWARE): devices[:2]})
        feed.committed({(ours, FIRMWARE): devices[1:]})
        taken, overflow = mine.take()
        assert len(taken) == 3 and overflow  # at most MAX_PENDING kept, the rest counted
        assert feed.subscribers() == 1
    assert feed.subscribers() == 0
    feed.committed({(ours, FIRMWARE): devices})  # nobody listens: nothing happens


def test_more_changed_rows_than_an_event_holds_are_truncated(tmp_path: Path) -> None:
    async def run() -> None:
        feed = ChangeFeed()
        url = load_settings({"data_dir": str(tmp_path)}, {}).effective_database_url
        engine = create_engine(url)
        await migrate(engine)
        storage = SqlStorage(engine, on_commit=feed.committed)
        await seed_demo(storage, Clock(), Passwords())
        async with storage.reading() as repos:
            devices = await repos.devices.find()
        tenant_id = devices[0].tenant_id
        admin = Principal(uuid.uuid4(), "a", Authority.TENANT_ADMIN, tenant_id, None, uuid.uuid4())
        live = LiveDashboard(Dashboard(storage, Clock()), feed, Clock(), 10, max_rows=1)
        stream = await live.open(admin, Filters(FIRMWARE))
        assert stream.first.name == "counts"
        stop = asyncio.Event()
        feed.committed({(tenant_id, FIRMWARE): [d.id for d in devices[:2]]})
        event = await stream.next(5, [stop])
        assert event is not None and event.name == "change"
        assert len(event.data["devices"]) == 1 and event.data["truncated"] is True
        feed.committed({(tenant_id, FIRMWARE): [devices[0].id]})
        event = await stream.next(5, [stop])
        assert event is not None and "truncated" not in event.data
        # Nothing pending: the wait ends at its timeout, or at once when stopped.
        assert await stream.next(0.2, [stop]) is None
        stop.set()
        assert await stream.next(5, [stop]) is None
        stream.close()
        assert feed.subscribers() == 0
        await engine.dispose()

    asyncio.run(run())


def test_streams_of_one_filter_share_their_counts_query(tmp_path: Path) -> None:
    """However late a stream reads (a loaded machine): a counts query started after its change
    was committed serves it; one started before a later change does not."""

    async def run() -> list[int]:
        feed = ChangeFeed()
        url = load_settings({"data_dir": str(tmp_path)}, {}).effective_database_url
        engine = create_engine(url)
        await migrate(engine)
        storage = SqlStorage(engine, on_commit=feed.committed)
        await seed_demo(storage, Clock(), Passwords())
        async with storage.reading() as repos:
            devices = await repos.devices.find()
        tenant_id = devices[0].tenant_id
        admin = Principal(uuid.uuid4(), "a", Authority.TENANT_ADMIN, tenant_id, None, uuid.uuid4())
        dashboard = Dashboard(storage, Clock())
        live = LiveDashboard(dashboard, feed, Clock(), 10)
        streams = [await live.open(admin, Filters(FIRMWARE)) for _ in range(5)]
        queries = 0
        counts = dashboard.counts

        async def counted(*args: object) -> dict[str, int]:
            nonlocal queries
            queries += 1
            return await counts(*args)  # type: ignore[arg-type]

        dashboard.counts = counted  # type: ignore[method-assign,assignment]
        seen = []
        for device in devices[:2]:
            feed.committed({(tenant_id, FIRMWARE): [device.id]})
            first = await streams[0].next(5, [])  # its counts query is done before the others read
            await asyncio.sleep(0.05)
            events = [first, *await asyncio.gather(*(s.next(5, []) for s in streams[1:]))]
            ids = [e.data["devices"][0]["deviceId"]["id"] for e in events if e is not None]
            assert ids == [str(device.id)] * len(streams)
            seen.append(queries)
        for stream in streams:
            stream.close()
        await engine.dispose()
        return seen

    assert asyncio.run(run()) == [1, 2]
