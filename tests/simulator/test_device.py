"""The device runner on its own, over an in-memory link (a seam: the campaign tests run the same
runner against real otakit servers). Each fault model ends as it predicts, and a link lost in
the middle of the state reports loses no report and no installation."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import pytest
from otaclient import protocol as p
from otasim.device import DeviceEnv, DeviceSettings, VirtualDevice
from otasim.faults import MODELS
from otasim.fleet import DevicePlan
from otasim.links import LOST, LinkError, Reply
from otasim.trace import TraceWriter, read_trace

IMAGE = bytes(range(256)) * 64  # 16 KiB
CHUNK = 1024


class MemoryLink:
    """The server as one device sees it: the package pushed once the device waits for it (as a
    campaign assigns once every device is idle), chunks from memory."""

    idle_poll_s: float | None = None

    def __init__(self, fail_telemetry_on: str = "") -> None:
        self.replies: asyncio.Queue[Reply] = asyncio.Queue()
        self.reports: list[dict[str, Any]] = []
        self.fail_on = fail_telemetry_on
        self.connects = 0
        self.assigned = False

    async def connect(self) -> None:
        self.connects += 1
        self.replies = asyncio.Queue()

    async def close(self) -> None:
        pass

    def abort(self) -> None:
        while not self.replies.empty():
            self.replies.get_nowait()
        self.replies.put_nowait((LOST, b""))

    async def send_telemetry(self, values: dict[str, Any]) -> None:
        if values.get("fw_state") == self.fail_on:
            self.fail_on = ""
            raise LinkError("the connection dropped")
        self.reports.append(values)

    async def request_attributes(self, keys: list[str]) -> dict[str, Any]:
        return self.package() if self.assigned else {}

    def package(self) -> dict[str, Any]:
        return {
            "fw_title": "fw",
            "fw_version": "2",
            "fw_size": len(IMAGE),
            "fw_checksum_algorithm": "SHA256",
            "fw_checksum": hashlib.sha256(IMAGE).hexdigest(),
        }

    async def request_chunk(self, target: dict[str, Any], index: int, size: int) -> None:
        self.replies.put_nowait((index, IMAGE[index * size : (index + 1) * size]))

    async def next_push(self, timeout: float) -> dict[str, Any] | None:
        await asyncio.sleep(0.01)
        if self.assigned:
            return None
        self.assigned = True
        return self.package()


def run_device(tmp_path: Path, fault: str, link: MemoryLink) -> tuple[VirtualDevice, list[str]]:
    model = MODELS[fault]
    plan = DevicePlan(0, "d0", "mqtt", CHUNK, fault, model.predicted, model.renotify, 7, 5)
    trace = TraceWriter(tmp_path / "trace.jsonl")
    settings = DeviceSettings(stall_s=0.01, slow_link_bps=1 << 20, offline_s=0.01, reboot_s=0.0)
    env = DeviceEnv(trace, time.monotonic(), asyncio.Event(), settings)
    env.assigned.set()
    device = VirtualDevice(plan, link, env, len(IMAGE))

    async def run() -> None:
        async with asyncio.timeout(30):
            await device.run()

    # The backoff after a lost link is a second or so: real time, kept short by the one retry.
    asyncio.run(run())
    trace.close()
    states = [e["state"] for e in read_trace(tmp_path / "trace.jsonl") if e["event"] == "state"]
    return device, states


@pytest.mark.parametrize("fault", [m for m in MODELS if m != "coap_loss"])
def test_each_fault_model_ends_as_it_predicts(fault: str, tmp_path: Path) -> None:
    device, states = run_device(tmp_path, fault, MemoryLink())
    assert device.verdict() == "", (fault, states, device.error)
    assert states[-1] == MODELS[fault].predicted
    final = [e for e in read_trace(tmp_path / "trace.jsonl") if e["event"] == "final"]
    assert final[0]["matched"] is True and final[0]["state"] == MODELS[fault].predicted


def test_a_report_the_link_lost_is_sent_after_reconnecting_and_the_install_goes_on(
    tmp_path: Path,
) -> None:
    link = MemoryLink(fail_telemetry_on=p.UPDATING)
    device, states = run_device(tmp_path, "none", link)
    assert device.updater.state == p.UPDATED and device.verdict() == ""
    sent = [r.get("fw_state") for r in link.reports if "fw_state" in r]
    assert sent == ["DOWNLOADING", "DOWNLOADED", "VERIFIED", "UPDATING", "UPDATED"]
    assert link.connects == 2 and device.installs == 1
    assert json.dumps(states) == json.dumps(sent)
