"""The simulator's device links against a real otakit: an update the server pushed before the
device's HTTP long poll was waiting is not lost for good."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from otaclient import protocol as p
from otasim.device import DeviceEnv, DeviceSettings, VirtualDevice
from otasim.faults import MODELS
from otasim.fleet import DevicePlan
from otasim.links import HttpLink
from otasim.trace import TraceWriter, read_trace
from otatarget.local import LocalServer, start

from tests.conftest import database_for
from tests.simulator.test_admin import admin_of, shared_title, unique

IMAGE = bytes(range(256)) * 32  # 8 KiB


@pytest.fixture(scope="module")
def local() -> Iterator[LocalServer]:
    with ExitStack() as stack:
        settings = {
            "OTAKIT_DATABASE_URL": database_for("sqlite", stack),
            "OTAKIT_QUEUE_PACK_INTERVAL_MS": "200",
        }
        with start(settings, name="sim-links") as server:
            yield server


class LatePollLink(HttpLink):
    """An HTTP link whose first long poll reaches the server only after `pushed` is set: the
    race a loaded device or network loses now and then (its poll still on the way when the
    server notifies), made certain."""

    def __init__(self, pushed: asyncio.Event, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pushed, self.polls = pushed, 0

    async def next_push(self, timeout: float) -> dict[str, Any] | None:
        self.polls += 1
        if self.polls == 1:
            await self.pushed.wait()
        return await super().next_push(timeout)


def test_an_http_device_whose_poll_missed_the_push_asks_again_and_updates(
    local: LocalServer, tmp_path: Path
) -> None:
    title = unique("late")

    async def scenario() -> VirtualDevice:
        async with await admin_of(local) as admin, httpx.AsyncClient(base_url=local.url) as http:
            profile = await admin.create_profile(unique("profile"))
            [(_, token)] = await admin.create_devices(profile, [unique("dev")])
            pushed = asyncio.Event()
            link = LatePollLink(pushed, http, token, p.FIRMWARE, 10.0, idle_poll_s=0.5)
            model = MODELS["none"]
            plan = DevicePlan(0, "d0", "http", 1024, "none", model.predicted, False, 7, 5)
            env = DeviceEnv(trace, time.monotonic(), asyncio.Event(), DeviceSettings())
            env.assigned.set()
            device = VirtualDevice(plan, link, env, len(IMAGE))
            running = asyncio.create_task(device.run())
            while not device.idle:  # it has asked for its attributes and found nothing
                await asyncio.sleep(0.02)
            package = await admin.upload_package(profile, title, "2", IMAGE)
            await admin.assign_to_profile(profile, package)
            assert await shared_title(local.url, token, title) == title  # the queue notified
            pushed.set()
            async with asyncio.timeout(30):
                await running
            return device

    trace = TraceWriter(tmp_path / "trace.jsonl")
    device = asyncio.run(scenario())
    trace.close()
    events = read_trace(tmp_path / "trace.jsonl")
    assert device.updater.state == p.UPDATED
    # Told by its own attribute request after a poll that saw nothing, not by a push.
    assert [e["push"] for e in events if e["event"] == "notified"] == [False]
