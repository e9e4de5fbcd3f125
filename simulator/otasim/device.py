"""One virtual device: otaclient's Updater (the state machine real devices run) on an asyncio link,
with its fault model acted out at the planned moment.

The runner is the Agent of otaclient, made asynchronous: it carries out the updater's actions
one after another, as a device with one connection does, and feeds the answers back. Nothing in
it waits on a thread, so thousands of devices share one event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from otaclient import protocol as p
from otaclient import updater as u
from otaclient.updater import Updater

from otasim.faults import MODELS
from otasim.fleet import DevicePlan
from otasim.links import LOST, Link, LinkError
from otasim.trace import TraceWriter

INITIAL_TITLE, INITIAL_VERSION = "Initial", "v0"
SKEW_MS = 24 * 3600 * 1000  # a clock a day ahead
REBOOT = "reboot"  # an action of our own: the device restarts after the actions before it


class Reboot(Exception):
    """The device restarts: its link and its updater go, its store stays."""


@dataclass
class DeviceSettings:
    kind: str = p.FIRMWARE
    request_timeout: float = 30.0  # a chunk or attribute answer later than this is lost
    stall_s: float = 5.0  # the stall fault's silence: longer than the server's stuck timeout
    slow_link_bps: int = 32 * 1024
    offline_s: float = 2.0  # the offline fault comes back this long after the assignment
    reboot_s: float = 0.2
    install_s: float = 0.05


@dataclass
class DeviceEnv:
    """What the devices of one run share."""

    trace: TraceWriter
    started: float  # time.monotonic() at the start of the run
    assigned: asyncio.Event
    settings: DeviceSettings = field(default_factory=DeviceSettings)

    def now(self) -> float:
        return time.monotonic() - self.started


class MemoryStore:
    """The device's flash: the image's bytes only when a fault reads them back, else a length."""

    def __init__(self, keep: bool) -> None:
        self.keep = keep
        self.image = bytearray()
        self.length = 0
        self.progress: dict[str, Any] | None = None

    def write(self, offset: int, data: bytes) -> None:
        if offset != self.length:
            raise ValueError(f"write at {offset}, {self.length} bytes stored")
        self.length += len(data)
        if self.keep:
            self.image += data

    def read(self, length: int) -> bytes:
        return bytes(self.image[:length])

    def discard(self) -> None:
        self.image, self.length = bytearray(), 0


class VirtualDevice:
    def __init__(self, plan: DevicePlan, link: Link, env: DeviceEnv, image_size: int) -> None:
        self.plan, self.link, self.env, self.image_size = plan, link, env, image_size
        self.settings = env.settings
        self.model = MODELS[plan.fault]
        self.rng = random.Random(plan.seed)
        self.store = MemoryStore(keep=self.model.keeps_image)
        self.updater = self._boot_updater(None)
        self.fetched = 0
        self.installs = 0
        self.notified = 0
        self.acted = plan.fault in ("none", "slow_link", "clock_skew", "coap_loss")
        self.error = ""
        self.idle = False  # has waited for a notification once: ready for the assignment
        self._previous: tuple[int, bytes] | None = None
        self._unsent: list[dict[str, Any]] = []  # state reports waiting for the link

    def _boot_updater(self, progress: dict[str, Any] | None) -> Updater:
        return Updater(
            self.settings.kind, INITIAL_TITLE, INITIAL_VERSION, self.plan.chunk_size, progress
        )

    def emit(self, event: str, **fields: Any) -> None:
        self.env.trace.emit(self.env.now(), self.plan.name, event, **fields)

    def _act(self, detail: str) -> None:
        self.acted = True
        self.emit("fault", model=self.plan.fault, detail=detail)

    def _due(self, index: int) -> bool:
        return not self.acted and index == self.plan.at_chunk

    # ---- the life of the device ------------------------------------------------------------

    async def run(self) -> None:
        plan = self.plan
        self.emit(
            "plan",
            transport=plan.transport,
            chunk_size=plan.chunk_size,
            fault=plan.fault,
            predicted=plan.predicted,
            renotify=plan.renotify,
        )
        try:
            await self._live()
        finally:
            self._final()
            with contextlib.suppress(LinkError):
                await self.link.close()

    @property
    def finished(self) -> bool:
        return self.updater.state in (p.UPDATED, p.FAILED)

    async def _live(self) -> None:
        started = time.monotonic()
        await self._connect()
        self.emit("connected", ms=round((time.monotonic() - started) * 1000, 3))
        actions = self.updater.start()
        while True:
            try:
                await self._execute(actions)
                if self.finished:
                    return
                if self.plan.fault == "offline" and not self.acted:
                    actions = await self._go_offline()
                    continue
                self.idle = True
                push = await self.link.next_push(self.link.idle_poll_s or 3600.0)
                if push is not None:
                    actions = self._attributes(push, push=True)
                elif self.link.idle_poll_s is not None:
                    actions = [(u.REQUEST_ATTRIBUTES, p.target_keys(self.settings.kind))]
                else:
                    actions = []
            except LinkError as error:
                self.emit("link", error=str(error)[:200])
                actions = await self._recover()
            except Reboot:
                actions = await self._reboot()

    async def _connect(self) -> None:
        """Connects, trying again with the updater's backoff until it works."""
        while True:
            try:
                await self.link.connect()
                return
            except LinkError as error:
                self.emit("link", error=str(error)[:200])
                await self._back_off()

    async def _back_off(self) -> None:
        now = _ms()
        self.updater.transport_failed(now, self.rng.random())
        retry_at = self.updater.retry_at or now
        await asyncio.sleep(max(0, retry_at - now) / 1000)
        self.updater.retry_at = None

    async def _recover(self) -> list[Any]:
        while True:
            await self.link.close()
            await self._back_off()
            await self._connect()
            try:
                while self._unsent:  # the state reports the lost connection did not carry
                    await self._send(self._unsent[0])
                    del self._unsent[0]
                break
            except LinkError as error:
                self.emit("link", error=str(error)[:200])
        return list(self.updater.reconnected())

    async def _reboot(self) -> list[Any]:
        await self.link.close()
        await asyncio.sleep(self.settings.reboot_s)
        self.updater = self._boot_updater(self.store.progress)
        await self._connect()
        return list(self.updater.start())

    async def _go_offline(self) -> list[Any]:
        self._act("offline until after the assignment")
        await self.link.close()
        self.idle = True
        await self.env.assigned.wait()
        await asyncio.sleep(self.settings.offline_s)
        await self._connect()
        return list(self.updater.reconnected())

    # ---- the updater's actions -------------------------------------------------------------

    async def _execute(self, actions: list[Any]) -> None:
        """Carries the actions out in order. When the link fails on a state report, the report
        is kept for after the reconnection and the device's own work (writing, installing) goes
        on; the next request that needs the link raises LinkError."""
        queue: deque[Any] = deque(actions)
        down: LinkError | None = None
        while queue:
            action = queue.popleft()
            kind = action[0]
            if down is not None and kind in (u.REQUEST_ATTRIBUTES, u.REQUEST_CHUNK):
                raise down
            if kind == u.TELEMETRY:
                if down is not None:
                    self._note(action[1])
                    self._unsent.append(action[1])
                    continue
                try:
                    await self._telemetry(action[1])
                except LinkError as error:
                    down = error
                    self._unsent.append(action[1])
            elif kind == u.REQUEST_ATTRIBUTES:
                shared = await self.link.request_attributes(action[1])
                queue.extend(self._attributes(shared, push=False))
            elif kind == u.REQUEST_CHUNK:
                data = await self._fetch(action[1], action[2])
                queue.extendleft(reversed(self._after_chunk(action[1], data)))
            elif kind == u.WRITE:
                self.store.write(action[1], action[2])
            elif kind == u.SAVE:
                self.store.progress = action[1]
            elif kind == u.DISCARD:
                self.store.discard()
            elif kind == u.REHASH:
                self.updater.stored(self.store.read(action[1]))
                queue.extend(self.updater.resume())
            elif kind == u.INSTALL:
                ok, why = await self._install()
                queue.extend(self.updater.installed(ok, why))
            elif kind == REBOOT:
                raise Reboot
        if down is not None:
            raise down

    def _after_chunk(self, index: int, data: bytes) -> list[Any]:
        actions = list(self.updater.chunk(data))
        if self.plan.fault == "reboot" and self._due(index):
            self._act(f"reboot after chunk {index}")
            # The chunk is written and the progress saved, then the device restarts.
            kept = [a for a in actions if a[0] in (u.WRITE, u.SAVE)]
            return [*kept, (REBOOT,)]
        return actions

    def _attributes(self, values: dict[str, Any], push: bool) -> list[Any]:
        kind = self.settings.kind
        announces = p.key(kind, "title") in values or p.key(kind, "version") in values
        actions = list(self.updater.attributes(values))
        target = self.updater.announced()
        current = (self.updater.current_title, self.updater.current_version)
        new = target is not None and (target["title"], target["version"]) != current
        if announces and new and (push or self.notified == 0):
            self.notified += 1
            self.emit("notified", push=push)
        return actions

    def _note(self, values: dict[str, Any]) -> str | None:
        """The trace's record of a state the updater reports (sent now or after reconnecting)."""
        state = values.get(p.state_key(self.settings.kind))
        if state is not None:
            error = values.get(p.error_key(self.settings.kind))
            if error is not None:
                self.error = str(error)
                self.emit("state", state=state, error=self.error)
            else:
                self.emit("state", state=state)
        return state

    async def _telemetry(self, values: dict[str, Any]) -> None:
        state = self._note(values)
        await self._send(values)
        if self.plan.fault == "state_disorder" and state == p.VERIFIED and not self.acted:
            self._act("VERIFIED reported twice, then a stale DOWNLOADING")
            await self._send(values)
            await self._send({p.state_key(self.settings.kind): p.DOWNLOADING})

    async def _send(self, values: dict[str, Any]) -> None:
        if self.plan.fault == "clock_skew":
            await self.link.send_telemetry({"ts": _wall_ms() + SKEW_MS, "values": values})
        else:
            await self.link.send_telemetry(values)

    async def _fetch(self, index: int, size: int) -> bytes:
        """Requests a chunk and waits for its answer, dropping copies and stale answers."""
        fault = self.plan.fault
        if fault == "stall" and self._due(index):
            self._act(f"silent for {self.settings.stall_s} s before chunk {index}")
            await asyncio.sleep(self.settings.stall_s)
        self._take_pushes()
        if fault == "reordered_chunk" and self._due(index) and self._previous is not None:
            self._act(f"chunk {self._previous[0]}'s answer again before chunk {index}'s")
            self.link.replies.put_nowait(self._previous)
        self.emit("request", index=index, size=size)
        sent = time.monotonic()
        await self.link.request_chunk(self.updater.target or {}, index, size)
        if fault == "disconnect" and self._due(index):
            self._act(f"connection dropped after requesting chunk {index}")
            self.link.abort()
        data = await self._reply(index)
        rtt = round((time.monotonic() - sent) * 1000, 3)
        if self._due(index):
            data = self._damage(index, data)
        if fault == "slow_link":
            await asyncio.sleep(len(data) / self.settings.slow_link_bps)
        self.fetched += len(data)
        self._previous = (index, data)
        self.emit("chunk", index=index, bytes=len(data), ms=rtt)
        return data

    async def _reply(self, index: int) -> bytes:
        try:
            async with asyncio.timeout(self.settings.request_timeout):
                while True:
                    got, data = await self.link.replies.get()
                    if got == LOST:
                        raise LinkError(f"connection lost waiting for chunk {index}")
                    if got == index:
                        return data
        except TimeoutError:
            raise LinkError(f"no answer for chunk {index}") from None

    def _damage(self, index: int, data: bytes) -> bytes:
        fault = self.plan.fault
        if fault == "duplicate_chunk":
            self._act(f"chunk {index}'s answer arrives twice")
            self.link.replies.put_nowait((index, data))
        elif fault == "truncated_chunk" and len(data) > 1:
            self._act(f"chunk {index}'s answer loses its last byte")
            return data[:-1]
        elif fault == "bad_checksum" and data:
            self._act(f"a byte of chunk {index} flips")
            at = self.rng.randrange(len(data))
            return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]
        return data

    def _take_pushes(self) -> None:
        """Pushes that came during a download: noted (a second notification shows here)."""
        take: Callable[[], dict[str, Any] | None] | None = getattr(self.link, "take_push", None)
        while take is not None and (push := take()) is not None:
            self._attributes(push, push=True)

    async def _install(self) -> tuple[bool, str | None]:
        self.installs += 1
        if self.plan.fault == "power_loss" and not self.acted:
            self._act("power lost while flashing")
            raise Reboot
        await asyncio.sleep(self.settings.install_s)
        if self.plan.fault == "boot_failure":
            self._act("the new image did not boot")
            return False, f"the new image did not boot; rolled back to {INITIAL_VERSION}"
        return True, None

    # ---- the verdict -----------------------------------------------------------------------

    def _final(self) -> None:
        state = self.updater.state
        reason = self.verdict()
        self.emit(
            "final",
            state=state,
            fetched=self.fetched,
            image_size=self.image_size,
            matched=not reason,
            reason=reason,
        )

    def verdict(self) -> str:
        """Why the device's end does not match its fault model's prediction ("" when it does)."""
        plan, state = self.plan, self.updater.state
        if state != plan.predicted:
            detail = f": {self.error}" if self.error else ""
            return f"ended {state}, {plan.predicted} predicted{detail}"
        if not self.acted:
            return f"the {plan.fault} fault never acted"
        if plan.fault == "bad_checksum":
            if self.installs:
                return "installed an image whose checksum did not match"
            if "checksum mismatch" not in self.error:
                return f"failed for another reason: {self.error}"
        if plan.fault == "boot_failure" and self.updater.current_version != INITIAL_VERSION:
            return "runs the image that did not boot"
        bound = self.image_size + plan.chunk_size
        if plan.fault in ("disconnect", "reboot", "truncated_chunk") and self.fetched > bound:
            return f"fetched {self.fetched} bytes, more than the image and one chunk ({bound})"
        return ""


def _ms() -> int:
    return int(time.monotonic() * 1000)


def _wall_ms() -> int:
    return int(time.time() * 1000)
