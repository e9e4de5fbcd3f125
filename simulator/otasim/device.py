"""One virtual device: otaclient's Updater (the state machine real devices run) on an asyncio link,
with its fault model acted out at the planned moment.

The runner is the Agent of otaclient, made asynchronous: it carries out the updater's actions
one after another, as a device with one connection does, and feeds the answers back. Nothing in
it waits on a thread, so thousands of devices share one event loop.

It is also `otakit device` (otasim.device_cli): one device without a fault, whose store and
installer are files (otaclient's FileStore and SlotInstaller), so there is one device runner.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from otaclient import protocol as p
from otaclient import updater as u
from otaclient.updater import Updater

from otasim.faults import MODELS
from otasim.fleet import DevicePlan
from otasim.links import LOST, Link, LinkError

INITIAL_TITLE, INITIAL_VERSION = "Initial", "v0"
SKEW_MS = 24 * 3600 * 1000  # a clock a day ahead
REBOOT = "reboot"  # an action of our own: the device restarts after the actions before it
REHASH_PIECE = 64 * 1024  # a stored image is read back in pieces, never whole
NOTHING_ASSIGNED, UP_TO_DATE = "nothing assigned", "up to date"  # why an idle device has no work


class Reboot(Exception):
    """The device restarts: its link and its updater go, its store stays."""


class Trace(Protocol):
    """Where a device's events go: the run's TraceWriter, or `otakit device`'s state lines."""

    def emit(self, t: float, device: str, event: str, **fields: Any) -> None: ...
    def flush(self) -> None: ...


class Store(Protocol):
    """The partial image and its progress: the interface of otaclient's Agent and FileStore."""

    def write(self, offset: int, data: bytes) -> None: ...
    def read(self, offset: int, length: int) -> bytes: ...
    def discard(self) -> None: ...
    def save_progress(self, progress: dict[str, Any] | None) -> None: ...
    def load_progress(self) -> dict[str, Any] | None: ...


class Installer(Protocol):
    """Writes a verified image where it boots from: otaclient's SlotInstaller."""

    def install(self, target: dict[str, Any], store: Any) -> tuple[bool, str | None]: ...


@dataclass
class DeviceSettings:
    kind: str = p.FIRMWARE
    request_timeout: float = 30.0  # a chunk or attribute answer later than this is lost
    stall_s: float = 5.0  # the stall fault's silence: longer than the server's stuck timeout
    slow_link_bps: int = 32 * 1024
    offline_s: float = 2.0  # the offline fault comes back this long after the assignment
    reboot_s: float = 0.2
    install_s: float = 0.05
    chunk_delay_s: float = 0.0  # a pause after each chunk is stored (`otakit device`'s slow link)


@dataclass(frozen=True)
class Lifetime:
    """When a device's run ends. The simulator's devices end at UPDATED or FAILED."""

    tell_idle: bool = False  # say once ("idle") when the server it heard has nothing for it
    exit_idle: bool = False  # and end there
    forever: bool = False  # stay after UPDATED or FAILED, for the next update


UNTIL_THE_END = Lifetime()


@dataclass
class DeviceEnv:
    """What the devices of one run share."""

    trace: Trace
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

    def read(self, offset: int, length: int) -> bytes:
        return bytes(self.image[offset : offset + length])

    def discard(self) -> None:
        self.image, self.length = bytearray(), 0

    def save_progress(self, progress: dict[str, Any] | None) -> None:
        self.progress = progress

    def load_progress(self) -> dict[str, Any] | None:
        return self.progress


class VirtualDevice:
    """The simulator's device; with a store, an installer and a lifetime, `otakit device`'s."""

    def __init__(
        self,
        plan: DevicePlan,
        link: Link,
        env: DeviceEnv,
        image_size: int,
        *,
        store: Store | None = None,
        installer: Installer | None = None,
        current: tuple[str, str] = (INITIAL_TITLE, INITIAL_VERSION),
        lifetime: Lifetime = UNTIL_THE_END,
    ) -> None:
        self.plan, self.link, self.env, self.image_size = plan, link, env, image_size
        self.settings = env.settings
        self.model = MODELS[plan.fault]
        self.rng = random.Random(plan.seed)
        self.store: Store = store or MemoryStore(keep=self.model.keeps_image)
        self.installer, self.current, self.lifetime = installer, current, lifetime
        self.answered = False  # has heard the server's attributes
        self.idle_reason = ""  # NOTHING_ASSIGNED or UP_TO_DATE, once told
        self.updater = self._boot_updater()
        self.fetched = 0
        self.installs = 0
        self.notified = 0
        self.acted = plan.fault in ("none", "slow_link", "clock_skew", "coap_loss")
        self.error = ""
        self.idle = False  # has waited for a notification once: ready for the assignment
        self._previous: tuple[int, bytes] | None = None
        self._unsent: list[dict[str, Any]] = []  # state reports waiting for the link

    def _boot_updater(self) -> Updater:
        """The updater as the device starts: from the progress its store kept, if any."""
        title, version = self.current
        progress = self.store.load_progress()
        return Updater(self.settings.kind, title, version, self.plan.chunk_size, progress)

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
                if self.finished and not self.lifetime.forever:
                    return
                if self.plan.fault == "offline" and not self.acted:
                    actions = await self._go_offline()
                    continue
                if self._told_idle() and self.lifetime.exit_idle:
                    return
                self.idle = True
                push = await self.link.next_push(self.link.idle_poll_s or 3600.0)
                if push is not None:
                    actions = self._attributes(push, push=True)
                elif self.link.idle_poll_s is not None:
                    actions = [(u.REQUEST_ATTRIBUTES, p.target_keys(self.settings.kind))]
                else:
                    actions = []
            except LinkError as error:
                actions = await self._recover(error)
            except Reboot:
                actions = await self._reboot()

    async def _connect(self) -> None:
        """Connects, trying again with the updater's backoff until it works."""
        while True:
            try:
                await self.link.connect()
                return
            except LinkError as error:
                await self._back_off(error)

    async def _back_off(self, error: LinkError) -> None:
        now = _ms()
        self.updater.transport_failed(now, self.rng.random())
        retry_at = self.updater.retry_at or now
        self.emit("link", error=str(error)[:200], retry_ms=retry_at - now)
        await asyncio.sleep(max(0, retry_at - now) / 1000)
        self.updater.retry_at = None

    async def _recover(self, error: LinkError) -> list[Any]:
        while True:
            await self.link.close()
            await self._back_off(error)
            await self._connect()
            try:
                while self._unsent:  # the state reports the lost connection did not carry
                    await self._send(self._unsent[0])
                    del self._unsent[0]
                break
            except LinkError as failed:
                error = failed  # told with the next backoff
        return list(self.updater.reconnected())

    async def _reboot(self) -> list[Any]:
        await self.link.close()
        await asyncio.sleep(self.settings.reboot_s)
        self.updater = self._boot_updater()
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

    def _told_idle(self) -> bool:
        """Whether the server, once heard, has nothing for the device; said once if asked to."""
        if self.idle_reason or not self.answered or self.updater.state != p.IDLE:
            return bool(self.idle_reason)
        target = self.updater.announced()
        if target is None:
            self.idle_reason = NOTHING_ASSIGNED
        elif (target["title"], target["version"]) == self.current_package:
            self.idle_reason = UP_TO_DATE
        else:
            return False
        if self.lifetime.tell_idle:
            self.emit("idle", reason=self.idle_reason, target=target)
        return True

    @property
    def current_package(self) -> tuple[str, str]:
        return self.updater.current_title, self.updater.current_version

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
                if self.settings.chunk_delay_s:
                    await asyncio.sleep(self.settings.chunk_delay_s)
            elif kind == u.SAVE:
                self.store.save_progress(action[1])
            elif kind == u.DISCARD:
                self.store.discard()
            elif kind == u.REHASH:
                self._rehash(action[1])
                queue.extend(self.updater.resume())
            elif kind == u.INSTALL:
                ok, why = await self._install(action[1])
                queue.extend(self.updater.installed(ok, why))
            elif kind == REBOOT:
                raise Reboot
        if down is not None:
            raise down

    def _rehash(self, length: int) -> None:
        offset = 0
        while offset < length:
            piece = self.store.read(offset, min(REHASH_PIECE, length - offset))
            if not piece:
                break  # the store holds less than its progress says: the digest will tell
            self.updater.stored(piece)
            offset += len(piece)

    def _after_chunk(self, index: int, data: bytes) -> list[Any]:
        actions = list(self.updater.chunk(data))
        if self.plan.fault == "reboot" and self._due(index):
            self._act(f"reboot after chunk {index}")
            # The chunk is written and the progress saved, then the device restarts.
            kept = [a for a in actions if a[0] in (u.WRITE, u.SAVE)]
            return [*kept, (REBOOT,)]
        return actions

    def _attributes(self, values: dict[str, Any], push: bool) -> list[Any]:
        self.answered = True
        kind = self.settings.kind
        announces = p.key(kind, "title") in values or p.key(kind, "version") in values
        actions = list(self.updater.attributes(values))
        target = self.updater.announced()
        new = target is not None and (target["title"], target["version"]) != self.current_package
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

    async def _install(self, target: dict[str, Any]) -> tuple[bool, str | None]:
        self.installs += 1
        if self.plan.fault == "power_loss" and not self.acted:
            self._act("power lost while flashing")
            raise Reboot
        await asyncio.sleep(self.settings.install_s)
        if self.plan.fault == "boot_failure":
            self._act("the new image did not boot")
            return False, f"the new image did not boot; rolled back to {INITIAL_VERSION}"
        if self.installer is not None:
            # Blocking file work, but only `otakit device` has an installer: one device per loop.
            return self.installer.install(target, self.store)
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
