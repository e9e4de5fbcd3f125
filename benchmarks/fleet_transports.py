"""otakit's device transports as servers, driven by fast native clients, next to a baseline each.

Every figure is measured in the same run, with the same client, against otakit and against a
well-known server holding the same bytes (benchmarks/transport_baselines.py), and given as a
ratio:

- idle MQTT: `--idle-connections` sockets CONNECT (the device's token as username) and SUBSCRIBE
  to v1/devices/me/attributes, then stay; the server's RSS per connection and the connect rate,
  vs mosquitto holding the same connections. Client: hand-written MQTT packets on non-blocking
  sockets (epoll), `--idle-workers` processes, at most `--idle-window` connects in flight each.
- HTTP: `GET /api/v1/{token}/firmware?...&size=S&chunk=N` with wrk (a Lua script walking the
  chunk numbers), vs nginx serving the same file with `Range`; 1 and 16 connections.
- CoAP: coap-client-notls fetching 1 MiB in 1 KiB Block2 blocks from /fw/{token}, vs libcoap's
  coap-server-notls holding the same bytes.
- MQTT chunks: v2/fw/request/{id}/chunk/{n}, 64 KiB, one request in flight per device, vs
  mosquitto relaying a responder's answers. Client: hand-written packets on epoll, one process.

Backends (`--db sqlite,postgresql`) each get a server of their own (otatarget.local); PostgreSQL
needs --postgres-url or OTAKIT_TEST_POSTGRES_URL (a fresh database is made and dropped).

    python -m benchmarks.fleet_transports [--db sqlite,postgresql] [--idle-connections 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import hashlib
import json
import multiprocessing
import os
import random
import re
import resource
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import urlencode

import httpx
import psutil
from otasim import admin

from benchmarks.fleet_rows import Row, print_table
from benchmarks.transport_baselines import (
    Service,
    start_libcoap,
    start_mosquitto,
    start_nginx,
    start_responder,
    stop,
)
from otatarget import local

KIB = 1024
MIB = 1024 * KIB
SEED = 20240601
BACKENDS = ("sqlite", "postgresql")
POSTGRES_URL_ENV = "OTAKIT_TEST_POSTGRES_URL"
PARTS = ("http", "coap", "mqtt", "idle")
CREATE_CONCURRENCY = 16  # the server is the limit: 4, 16 and 64 all make ~80 devices/s
ATTRIBUTES = "v1/devices/me/attributes"
RESPONSES = "v2/fw/response/+/chunk/+"
COAP_BASELINE_PATH = "/fw/baseline"

# The goals (the table); a ratio is otakit / baseline.
IDLE_GOAL_COUNT, IDLE_GOAL_KIB, CONNECT_GOAL_RATE = 10_000, 10.0, 2_000.0
HTTP_GOAL, COAP_GOAL, MQTT_GOAL = 0.25, 0.3, 0.5


# ---- minimal MQTT 3.1.1, written by hand ----------------------------------------------------
# Only what the clients below send and read; no library in the loop, so the client stays cheap.

CONNECT, CONNACK, PUBLISH, PUBACK, SUBSCRIBE, SUBACK = 1, 2, 3, 4, 8, 9


def _length(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _text(value: str) -> bytes:
    raw = value.encode()
    return struct.pack("!H", len(raw)) + raw


def _packet(kind: int, flags: int, body: bytes) -> bytes:
    return bytes([kind << 4 | flags]) + _length(len(body)) + body


def connect_packet(client_id: str, username: str) -> bytes:
    # Clean session, a username, keep-alive 0: no PINGREQ is owed while held (holds are bounded).
    flags = 0x80 | 0x02
    body = _text("MQTT") + bytes([4, flags]) + struct.pack("!H", 0) + _text(client_id)
    return _packet(CONNECT, 0, body + _text(username))


def subscribe_packet(packet_id: int, topic: str, qos: int) -> bytes:
    return _packet(SUBSCRIBE, 0x2, struct.pack("!H", packet_id) + _text(topic) + bytes([qos]))


def publish_packet(topic: str, payload: bytes, packet_id: int) -> bytes:
    return _packet(PUBLISH, 0x2, _text(topic) + struct.pack("!H", packet_id) + payload)  # QoS 1


def puback_packet(packet_id: int) -> bytes:
    return _packet(PUBACK, 0, struct.pack("!H", packet_id))


class Packets:
    """Splits a byte stream into (type, flags, body) packets."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> Iterator[tuple[int, int, bytes]]:
        self._buffer += data
        buffer = self._buffer
        while len(buffer) >= 2:
            size, shift, at = 0, 0, 1
            while True:
                if at >= len(buffer):
                    return
                byte = buffer[at]
                size |= (byte & 0x7F) << shift
                at += 1
                if not byte & 0x80:
                    break
                shift += 7
            if len(buffer) < at + size:
                return
            header = buffer[0]
            body = bytes(buffer[at : at + size])
            del buffer[: at + size]
            yield header >> 4, header & 0x0F, body


def parse_publish(flags: int, body: bytes) -> tuple[str, int | None, bytes]:
    (size,) = struct.unpack_from("!H", body)
    topic = body[2 : 2 + size].decode()
    at = 2 + size
    packet_id = None
    if flags & 0x06:
        (packet_id,) = struct.unpack_from("!H", body, at)
        at += 2
    return topic, packet_id, body[at:]


# ---- measuring a server process -------------------------------------------------------------


def tree(process: psutil.Process) -> list[psutil.Process]:
    return [process, *process.children(recursive=True)]


def tree_rss(process: psutil.Process) -> int:
    return sum(int(p.memory_info().rss) for p in tree(process))


def tree_cpu(process: psutil.Process) -> float:
    return float(sum(t.user + t.system for t in (p.cpu_times() for p in tree(process))))


@dataclass
class CpuWatch:
    """CPU seconds of a server between start and stop, as a share of one core."""

    process: psutil.Process
    began: float = 0.0
    cpu: float = 0.0

    def __enter__(self) -> CpuWatch:
        self.began, self.cpu = time.monotonic(), tree_cpu(self.process)
        return self

    def __exit__(self, *_: object) -> None:
        self.cpu = tree_cpu(self.process) - self.cpu
        self.began = time.monotonic() - self.began

    @property
    def share(self) -> float:
        return self.cpu / self.began if self.began else 0.0


def own_cpu() -> float:
    times = os.times()
    return times.user + times.system


def raise_fd_limit() -> int:
    """Soft RLIMIT_NOFILE up to the hard one: a held connection is a descriptor on each side, and
    the servers and client processes started later inherit the limit."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def run_child(args: list[str], timeout: float) -> tuple[int, float, float]:
    """(exit status, wall seconds, CPU seconds) of a native client; wait4 gives its rusage."""
    began = time.monotonic()
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return _reap(process, began, timeout)


def _reap(
    process: subprocess.Popen[bytes], began: float, timeout: float
) -> tuple[int, float, float]:
    deadline = began + timeout
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            return process.returncode, time.monotonic() - began, usage.ru_utime + usage.ru_stime
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise TimeoutError(f"{process.args!r} took longer than {timeout:.0f} s")
        time.sleep(0.002)


# ---- what otakit's CPU does: py-spy, on request --------------------------------------------


@contextlib.contextmanager
def spying(directory: Path | None, pid: int, label: str) -> Iterator[None]:
    """py-spy samples the server while the block runs (--py-spy DIR); a summary goes to stderr.

    --nonblocking: the server is never paused, so the figure measured with it moves little."""
    if directory is None:
        yield
        return
    directory.mkdir(parents=True, exist_ok=True)
    out = directory / f"{label}.txt"
    # In the venv next to this Python (pip install py-spy) when not on PATH.
    tool = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    options = ("--rate", "100", "--format", "raw", "--nonblocking", "--output", str(out))
    spy = subprocess.Popen(
        [tool, "record", "--pid", str(pid), *options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        try:
            spy.wait(30)
        except subprocess.TimeoutExpired:
            spy.kill()
            spy.wait()
    if out.exists():
        note(f"    py-spy {out}: {profile_summary(out)}")


# The event loop's own frames, under every sample of the main thread: they say nothing.
SKELETON = {
    *("<frozen runpy>", "otaserver/cli"),
    *("asyncio/runners", "asyncio/base_events", "asyncio/events"),
}


def profile_summary(path: Path, top: int = 6) -> str:
    """Where the server's main thread was when sampled: the libraries (and otaserver packages)
    its stacks went through, and the innermost frames. The raw format is one
    `frame;frame;... count` line per distinct stack; the main thread's start in runpy."""
    through: Counter[str] = Counter()
    inner: Counter[str] = Counter()
    main = others = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = stack.split(";")
        if "runpy" not in frames[0]:
            others += int(count)  # worker threads: file reads, SQLite, password hashes
            continue
        main += int(count)
        for where in {_library(frame) for frame in frames} - SKELETON:
            through[where] += int(count)
        inner[frames[-1].split(" (", 1)[0]] += int(count)
    if not main:
        return f"no main-thread samples ({others} in other threads)"

    def shares(counts: Counter[str]) -> str:
        return ", ".join(f"{name} {n / main:.0%}" for name, n in counts.most_common(top))

    return (
        f"{main} main-thread samples ({others} in other threads); through {shares(through)}; "
        f"innermost {shares(inner)}"
    )


def _library(frame: str) -> str:
    # "function (package/module.py:123)" -> "package", or "otaserver/subpackage".
    where = frame.rpartition(" (")[2].rpartition(":")[0]
    parts = where.removesuffix(".py").split("/")
    return "/".join(parts[:2]) if parts[0] in ("otaserver", "asyncio") else parts[0]


# ---- otakit and its devices -----------------------------------------------------------------


@dataclass
class Target:
    """A started otakit, its tenant's REST session and the devices made on it."""

    server: local.LocalServer
    process: psutil.Process
    backend: str
    database_url: str  # where a second server finds the same devices
    mqtt_port: int = 0
    coap_port: int = 0
    tokens: dict[str, str] = field(default_factory=dict)  # purpose -> device token
    titles: dict[str, tuple[str, str]] = field(default_factory=dict)  # purpose -> title, version

    def __post_init__(self) -> None:
        self.mqtt_port = int(self.server.mqtt.rsplit(":", 1)[1])
        self.coap_port = int(self.server.coap.rsplit(":", 1)[1])


@contextlib.contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    """A new PostgreSQL database made with `admin_url` (an account that may create databases);
    its URL. Dropped afterwards, by force: the stopped server may still hold connections."""
    import asyncpg

    name = "otakit_transbench_" + uuid.uuid4().hex[:12]

    async def execute(statement: str) -> None:
        connection = await asyncpg.connect(admin_url)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(execute(f'CREATE DATABASE "{name}"'))
    try:
        yield re.sub(r"/[^/]*$", "/" + name, admin_url)
    finally:
        asyncio.run(execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def otakit(
    backend: str, max_connections: int, postgres_url: str, database_url: str = ""
) -> Iterator[Target]:
    """otakit on a fresh database, or on `database_url` (another server's, stopped)."""
    settings = {"OTAKIT_MQTT_MAX_CONNECTIONS": str(max_connections)}
    with ExitStack() as stack:
        if not database_url and backend == "postgresql":
            if not postgres_url:
                raise RuntimeError(f"--db postgresql needs --postgres-url or {POSTGRES_URL_ENV}")
            database_url = stack.enter_context(fresh_database(postgres_url))
        if database_url:
            settings["OTAKIT_DATABASE_URL"] = database_url
        server = local.start(settings, name=f"transbench-{backend}")
        stack.callback(shutil.rmtree, server.data_dir, ignore_errors=True)
        stack.callback(server.stop)
        database_url = database_url or f"sqlite:///{server.data_dir.resolve() / 'otakit.db'}"
        try:
            yield Target(server, psutil.Process(server.process.pid), backend, database_url)
        except BaseException:
            note(f"otakit's log ends:\n{server.log_tail(4000)}")  # before the data dir goes
            raise


async def _with_package(target: Target, purpose: str, data: bytes) -> None:
    """A device of a profile of its own, whose firmware is `data`."""
    user, password = target.server.tenant_admin
    async with await admin.login(target.server.url, user, password) as rest:
        profile = await rest.create_profile(f"bench-{purpose}")
        package = await rest.upload_package(profile, f"bench-{purpose}", "1.0", data)
        if package.get("checksum") != hashlib.sha256(data).hexdigest():
            raise RuntimeError(f"otakit stored {purpose} with checksum {package.get('checksum')}")
        await rest.assign_to_profile(profile, package)
        [(_, token)] = await rest.create_devices(profile, [f"bench-{purpose}"])
    target.tokens[purpose] = token
    target.titles[purpose] = (f"bench-{purpose}", "1.0")


async def _idle_devices(target: Target, count: int) -> list[str]:
    user, password = target.server.tenant_admin
    async with await admin.login(target.server.url, user, password) as rest:
        profile = await rest.create_profile("bench-idle")
        names = [f"idle-{i:06d}" for i in range(count)]
        made = await rest.create_devices(profile, names, CREATE_CONCURRENCY)
    return [token for _, token in made]


def note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class Rated(Protocol):
    rate: float


R = TypeVar("R", bound=Rated)


def best_of(repeats: int, ours: Callable[[], R], theirs: Callable[[], R]) -> tuple[R, R]:
    """The fastest of `repeats` runs of each side, alternating: a burst of load from elsewhere on
    the machine then does not fall on one side only."""
    best: list[R | None] = [None, None]
    for _ in range(max(1, repeats)):
        for side, measure in enumerate((ours, theirs)):
            result = measure()
            if best[side] is None or result.rate > best[side].rate:  # type: ignore[union-attr]
                best[side] = result
    assert best[0] is not None and best[1] is not None
    return best[0], best[1]


def spied(
    args: argparse.Namespace, target: Target, label: str, measure: Callable[[], R]
) -> Callable[[], R]:
    def run() -> R:
        with spying(args.py_spy, target.process.pid, f"{label}-{target.backend}"):
            return measure()

    return run


# ---- HTTP: wrk ------------------------------------------------------------------------------

WRK_SCRIPT = """\
-- Generated by benchmarks.fleet_transports: walks the chunk numbers, one request after another.
local chunks, size, total = {chunks}, {size}, {total}
local prefix, ranged = "{prefix}", {ranged}
local n = 0
request = function()
  local i = n
  n = (n + 1) % chunks
  if ranged then
    local last = math.min((i + 1) * size, total) - 1
    return wrk.format("GET", prefix, {{Range = "bytes=" .. i * size .. "-" .. last}})
  end
  return wrk.format("GET", prefix .. i)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKJSON {{\\"requests\\": %d, \\"us\\": %d, \\"bytes\\": %d, \\"errors\\": %d, "
      .. "\\"status\\": %d, \\"p50\\": %d, \\"p99\\": %d}}\\n",
    summary.requests, summary.duration, summary.bytes,
    e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass
class WrkResult:
    rate: float
    mean_bytes: float
    p50_ms: float
    client_cpu: float  # share of a core
    server_cpu: float


def wrk(
    work: Path,
    url: str,
    prefix: str,
    ranged: bool,
    size: int,
    total: int,
    connections: int,
    seconds: float,
    threads: int,
    server: psutil.Process,
) -> WrkResult:
    script = work / f"walk-{'range' if ranged else 'chunk'}-{size}.lua"
    script.write_text(
        WRK_SCRIPT.format(
            chunks=-(-total // size),
            size=size,
            total=total,
            prefix=prefix,
            ranged="true" if ranged else "false",
        )
    )
    args = [
        *("wrk", "-t", str(min(threads, connections)), "-c", str(connections)),
        *("-d", f"{seconds:g}s", "--timeout", "10s", "-s", str(script), url),
    ]
    began = time.monotonic()
    with CpuWatch(server) as watch:
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        code, wall, cpu = _reap(process, began, seconds + 60)
    assert process.stdout is not None
    output = process.stdout.read().decode(errors="replace")
    found = [line for line in output.splitlines() if line.startswith("WRKJSON ")]
    if code != 0 or not found:
        raise RuntimeError(f"wrk failed ({code}):\n{output}")
    got = json.loads(found[-1].removeprefix("WRKJSON "))
    if got["errors"] or got["status"] or not got["requests"]:
        raise RuntimeError(f"wrk saw errors against {url}{prefix}: {got}\n{output}")
    mean = got["bytes"] / got["requests"]
    if mean < size:  # a short body means an error page or a wrong range
        raise RuntimeError(f"{url}{prefix}: {mean:.0f} bytes a response for {size} B chunks")
    rate = got["requests"] / (got["us"] / 1e6)
    return WrkResult(rate, mean, got["p50"] / 1000, cpu / wall, watch.share)


def check_http(client: httpx.Client, url: str, headers: dict[str, str], want: bytes) -> None:
    got = client.get(url, headers=headers).raise_for_status().content
    if got != want:
        raise RuntimeError(f"GET {url} {headers}: {len(got)} bytes, not the file's {len(want)}")


def http_rows(
    args: argparse.Namespace, work: Path, target: Target, nginx: Service, data: bytes
) -> list[Row]:
    token = target.tokens["http"]
    title, version = target.titles["http"]
    base = target.server.url
    nginx_url = f"http://127.0.0.1:{nginx.port}"
    rows = []
    for size in (kib * KIB for kib in args.http_chunk_kib):
        query = urlencode({"title": title, "version": version, "size": size})
        prefix = f"/api/v1/{token}/firmware?{query}&chunk="
        last = (len(data) - 1) // size
        with httpx.Client(timeout=30) as client:  # both answer the first and last chunk right
            for index in (0, last):
                piece = data[index * size : (index + 1) * size]
                check_http(client, f"{base}{prefix}{index}", {}, piece)
                span = f"bytes={index * size}-{index * size + len(piece) - 1}"
                check_http(client, f"{nginx_url}/fw.bin", {"Range": span}, piece)
        nginx_process = psutil.Process(nginx.process.pid)
        for connections in args.http_connections:
            how = (size, len(data), connections, args.http_seconds, args.wrk_threads)
            ours, theirs = best_of(
                args.repeats,
                spied(
                    args,
                    target,
                    f"http-{size // KIB}k-c{connections}",
                    partial(wrk, work, base, prefix, False, *how, target.process),
                ),
                partial(wrk, work, nginx_url, "/fw.bin", True, *how, nginx_process),
            )
            ratio = ours.rate / theirs.rate
            rows.append(
                Row(
                    f"HTTP chunk req/s, {size // KIB} KiB, wrk -c{connections}",
                    f">= {HTTP_GOAL}x nginx",
                    target.backend,
                    f"{ratio:.2f}x: {ours.rate:,.0f} req/s, p50 {ours.p50_ms:.2f} ms "
                    f"(otakit CPU {ours.server_cpu:.0%}, wrk {ours.client_cpu:.0%})",
                    ratio >= HTTP_GOAL,
                    f"nginx Range {theirs.rate:,.0f} req/s, p50 {theirs.p50_ms:.2f} ms "
                    f"(nginx CPU {theirs.server_cpu:.0%}, wrk {theirs.client_cpu:.0%})",
                )
            )
            note(f"  {rows[-1].figure} [{target.backend}]: {rows[-1].measured}")
    return rows


# ---- CoAP: coap-client-notls ----------------------------------------------------------------


@dataclass
class CoapResult:
    seconds: float  # best wall time of all clients together (inf: none completed)
    client_cpu: float
    server_cpu: float
    stalled: int = 0  # fetches a client gave up on (no answer within --coap-wait)


def coap_fetch(
    work: Path,
    uri: str,
    data: bytes,
    clients: int,
    args: argparse.Namespace,
    server: psutil.Process,
) -> CoapResult:
    want = hashlib.sha256(data).hexdigest()
    best = CoapResult(float("inf"), 0.0, 0.0)
    stalled = 0
    for _ in range(args.coap_repeats):
        outputs = [work / f"coap-{i}.bin" for i in range(clients)]
        for path in outputs:
            path.unlink(missing_ok=True)
        began = time.monotonic()
        wait = ("-B", f"{args.coap_wait:g}")  # coap-client's own bound on a silent server
        with CpuWatch(server) as watch:
            processes = [
                subprocess.Popen(
                    [
                        *("coap-client-notls", "-m", "get", "-b", "1024", *wait),
                        "-o",
                        str(path),
                        uri,
                    ],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                )
                for path in outputs
            ]
            reaped = [_reap(process, began, args.coap_wait + 60) for process in processes]
        wall = time.monotonic() - began
        complete = True
        for process, path, (code, _, _) in zip(processes, outputs, reaped, strict=True):
            assert process.stdout is not None
            said = process.stdout.read().decode(errors="replace")[-500:]
            if code == 0 and not path.exists():
                # It waited --coap-wait seconds and exits 0 with nothing. Seen when the first
                # block takes over 0.1 s: aiocoap then ACKs empty and answers separately, and
                # libcoap 4.3.1 cannot go on blockwise from a separate response (obgm/libcoap
                # #1595, fixed upstream in 2025). Counted in the row, not fatal.
                stalled += 1
                complete = False
                note(f"    coap-client {uri}: no answer within {args.coap_wait:g} s {said}")
                continue
            got = hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "nothing"
            if code != 0 or got != want:
                raise RuntimeError(f"coap-client {uri}: exit {code}, sha256 {got}: {said}")
        if complete and wall < best.seconds:
            best = CoapResult(wall, sum(cpu for _, _, cpu in reaped) / wall, watch.share)
    best.stalled = stalled
    return best


def coap_rows(
    args: argparse.Namespace, work: Path, target: Target, libcoap: Service, data: bytes
) -> list[Row]:
    token = target.tokens["coap"]
    title, version = target.titles["coap"]
    ours_uri = f"coap://127.0.0.1:{target.coap_port}/fw/{token}?" + urlencode(
        {"title": title, "version": version}
    )
    theirs_uri = f"coap://127.0.0.1:{libcoap.port}{COAP_BASELINE_PATH}"
    libcoap_process = psutil.Process(libcoap.process.pid)
    rows = []
    for clients in args.coap_clients:
        with spying(args.py_spy, target.process.pid, f"coap-{clients}-{target.backend}"):
            ours = coap_fetch(work, ours_uri, data, clients, args, target.process)
        theirs = coap_fetch(work, theirs_uri, data, clients, args, libcoap_process)
        # A side with no complete fetch: otakit's misses the goal, libcoap's leaves no ratio.
        compared = theirs.seconds < float("inf")
        ratio = theirs.seconds / ours.seconds if compared else 0.0
        total = len(data) * clients / KIB
        tries = args.coap_repeats * clients

        def rate(result: CoapResult, total: float = total, tries: int = tries) -> str:
            stalls = f", {result.stalled} of {tries} stalled" if result.stalled else ""
            if result.seconds == float("inf"):
                return f"no fetch completed{stalls}"
            return f"{total / result.seconds:,.0f} KiB/s in {result.seconds:.2f} s{stalls}"

        rows.append(
            Row(
                f"CoAP {len(data) // KIB} KiB in 1 KiB Block2, {clients} coap-client",
                f">= {COAP_GOAL}x libcoap",
                target.backend,
                f"{ratio:.2f}x: {rate(ours)} (otakit CPU {ours.server_cpu:.0%}, "
                f"clients {ours.client_cpu:.0%})",
                ratio >= COAP_GOAL if compared else None,
                f"coap-server-notls {rate(theirs)} (CPU {theirs.server_cpu:.0%}, "
                f"clients {theirs.client_cpu:.0%})",
            )
        )
        note(f"  {rows[-1].figure} [{target.backend}]: {rows[-1].measured}")
    return rows


# ---- MQTT chunks: hand-written client on epoll ----------------------------------------------


class ChunkDevice:
    """One MQTT connection walking the file's chunks, one request in flight at a time."""

    def __init__(
        self, port: int, username: str, number: int, data: bytes, chunk: int, own_filter: bool
    ) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.packets = Packets()
        self.data, self.chunk = data, chunk
        self.chunks = -(-len(data) // chunk)
        # One request id per device, walking the file again and again, as a device retrying.
        self.request_id, self.index, self.received = number + 1, 0, 0
        self.packet_id = 0
        self.sock.sendall(connect_packet(f"chunks-{number}-{os.getpid()}", username))
        self._expect(CONNACK)
        # A broker sends a response to every matching subscription: on mosquitto each device
        # subscribes to its own request id, else 16 devices would each get all 16 streams.
        topic = f"v2/fw/response/{self.request_id}/chunk/+" if own_filter else RESPONSES
        self.sock.sendall(subscribe_packet(1, topic, 1))
        self._expect(SUBACK)
        self.sock.setblocking(False)

    def _expect(self, kind: int) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            data = self.sock.recv(65536)
            if not data:
                break
            for got, _, body in self.packets.feed(data):
                refused = body[1] != 0 if kind == CONNACK else body[-1] == 0x80
                if got != kind or refused:
                    raise RuntimeError(f"MQTT: expected packet type {kind}, got {got} {body!r}")
                return
        raise RuntimeError(f"MQTT: no packet type {kind}")

    def request(self) -> None:
        self.index %= self.chunks
        self.packet_id = self.packet_id % 65535 + 1
        topic = f"v2/fw/request/{self.request_id}/chunk/{self.index}"
        self.sock.sendall(publish_packet(topic, str(self.chunk).encode(), self.packet_id))

    def readable(self) -> bool:
        """Reads what came; True when the chunk asked for has arrived (and is right)."""
        try:
            data = self.sock.recv(1 << 20)
        except BlockingIOError:
            return False
        if not data:
            raise RuntimeError("MQTT: the server closed a chunk connection")
        arrived = False
        for kind, flags, body in self.packets.feed(data):
            if kind != PUBLISH:
                continue  # PUBACKs of our requests
            topic, packet_id, payload = parse_publish(flags, body)
            if packet_id is not None:
                self.sock.sendall(puback_packet(packet_id))
            want = f"v2/fw/response/{self.request_id}/chunk/{self.index}"
            start = self.index * self.chunk
            if topic != want or payload != self.data[start : start + self.chunk]:
                raise RuntimeError(f"MQTT: wanted {want}, got {topic} ({len(payload)} B)")
            self.index += 1
            self.received += 1
            arrived = True
        return arrived


@dataclass
class ChunkResult:
    rate: float  # chunks/s
    client_cpu: float
    server_cpu: list[float]  # of each server process watched


def mqtt_chunks(
    port: int,
    username: str,
    devices: int,
    data: bytes,
    chunk: int,
    seconds: float,
    servers: list[psutil.Process],
    own_filter: bool = False,
) -> ChunkResult:
    fleet = [ChunkDevice(port, username, i, data, chunk, own_filter) for i in range(devices)]
    selector = selectors.DefaultSelector()
    try:
        for device in fleet:
            selector.register(device.sock, selectors.EVENT_READ, device)
        cpu, began = own_cpu(), time.monotonic()
        with ExitStack() as watching:
            watches = [watching.enter_context(CpuWatch(server)) for server in servers]
            for device in fleet:
                device.request()
            end = began + seconds
            while time.monotonic() < end:
                for key, _ in selector.select(timeout=1.0):
                    device = key.data
                    if device.readable():
                        device.request()
            # The answers in flight are left unread: each connection is closed below.
        elapsed = time.monotonic() - began
        done = sum(device.received for device in fleet)
        if not done:
            raise RuntimeError(f"MQTT port {port}: no chunk in {seconds} s")
        shares = [watch.share for watch in watches]
        return ChunkResult(done / elapsed, (own_cpu() - cpu) / elapsed, shares)
    finally:
        selector.close()
        for device in fleet:
            device.sock.close()


def mqtt_rows(
    args: argparse.Namespace, target: Target, mosquitto: Service, responder: Service, data: bytes
) -> list[Row]:
    token = target.tokens["http"]  # the same package as the HTTP rows
    chunk = args.mqtt_chunk_kib * KIB
    baseline = [psutil.Process(mosquitto.process.pid), psutil.Process(responder.process.pid)]
    rows = []
    for devices in args.mqtt_devices:
        how = (token, devices, data, chunk, args.mqtt_seconds)
        ours, theirs = best_of(
            args.repeats,
            spied(
                args,
                target,
                f"mqtt-{devices}",
                partial(mqtt_chunks, target.mqtt_port, *how, [target.process]),
            ),
            partial(mqtt_chunks, mosquitto.port, *how, baseline, True),
        )
        ratio = ours.rate / theirs.rate

        def rate(result: ChunkResult) -> str:
            return f"{result.rate:,.0f} chunks/s ({result.rate * chunk / MIB:,.1f} MiB/s)"

        rows.append(
            Row(
                f"MQTT {chunk // KIB} KiB chunks, {devices} device(s)",
                f">= {MQTT_GOAL}x mosquitto",
                target.backend,
                f"{ratio:.2f}x: {rate(ours)} (otakit CPU {ours.server_cpu[0]:.0%}, "
                f"client {ours.client_cpu:.0%})",
                ratio >= MQTT_GOAL,
                f"mosquitto + responder {rate(theirs)} (mosquitto CPU {theirs.server_cpu[0]:.0%}, "
                f"responder {theirs.server_cpu[1]:.0%}, client {theirs.client_cpu:.0%})",
            )
        )
        note(f"  {rows[-1].figure} [{target.backend}]: {rows[-1].measured}")
    return rows


# ---- idle MQTT connections: worker processes ------------------------------------------------


@dataclass
class IdleJob:
    port: int
    usernames: list[str]
    prefix: str  # of the client ids
    window: int  # connects in flight at most
    timeout: float  # for the whole connect phase, and for each wait on the parent


class Pending:
    __slots__ = ("packets", "sock", "stage", "started")

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.stage, self.packets = sock, CONNECT, Packets()
        self.started = time.monotonic()


def idle_worker(job: IdleJob, conn: Connection) -> None:
    """Connects every username, reports, holds until told, reports who is still there."""
    selector = selectors.DefaultSelector()
    held: list[socket.socket] = []
    failures: Counter[str] = Counter()
    conn.send("ready")
    if conn.recv() != "go":
        return
    began, cpu = time.monotonic(), own_cpu()
    deadline, last = began + job.timeout, began
    waiting = iter(enumerate(job.usernames))
    in_flight = 0
    more = True

    def fail(pending: Pending, why: str) -> None:
        nonlocal in_flight
        failures[why] += 1
        selector.unregister(pending.sock)
        pending.sock.close()
        in_flight -= 1

    while (more or in_flight) and time.monotonic() < deadline:
        while more and in_flight < job.window:
            step = next(waiting, None)
            if step is None:
                more = False
                break
            number, username = step
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            code = sock.connect_ex(("127.0.0.1", job.port))
            if code not in (0, errno.EINPROGRESS):
                failures[errno.errorcode.get(code, str(code))] += 1
                sock.close()
                continue
            pending = Pending(sock)
            selector.register(sock, selectors.EVENT_WRITE, (pending, number, username))
            in_flight += 1
        for key, _ in selector.select(timeout=0.5):
            pending, number, username = key.data
            sock = pending.sock
            if pending.stage == CONNECT:
                code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if code:
                    fail(pending, errno.errorcode.get(code, str(code)))
                    continue
                sock.send(connect_packet(f"{job.prefix}-{number}", username))
                pending.stage = CONNACK
                selector.modify(sock, selectors.EVENT_READ, key.data)
                continue
            try:
                data = sock.recv(4096)
            except OSError as error:
                fail(pending, type(error).__name__)
                continue
            if not data:
                fail(pending, "closed by the server")
                continue
            for kind, _, body in pending.packets.feed(data):
                if pending.stage == CONNACK and kind == CONNACK:
                    if body[1] != 0:
                        fail(pending, f"CONNACK {body[1]}")
                        break
                    sock.send(subscribe_packet(1, ATTRIBUTES, 1))
                    pending.stage = SUBACK
                elif pending.stage == SUBACK and kind == SUBACK:
                    if body[-1] == 0x80:
                        fail(pending, "SUBACK refused")
                        break
                    # Held: out of the selector, so a held socket costs the client nothing.
                    selector.unregister(sock)
                    held.append(sock)
                    in_flight -= 1
                    last = time.monotonic()
                    break
        # A connect stuck for long is counted as failed rather than waited for.
        now = time.monotonic()
        for key in list(selector.get_map().values()):
            if now - key.data[0].started > min(60.0, job.timeout):
                fail(key.data[0], "no answer in 60 s")
    for key in list(selector.get_map().values()):
        fail(key.data[0], "past the timeout")
    selector.close()
    cpu = own_cpu() - cpu
    report = {"held": len(held), "failures": dict(failures), "began": began, "last": last}
    conn.send({**report, "cpu": cpu})
    try:
        if conn.poll(job.timeout) and conn.recv() == "count":
            conn.send(sum(_still_open(sock) for sock in held))
            conn.poll(job.timeout)
    finally:
        for sock in held:
            sock.close()


def _still_open(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        while True:  # pushes the server may have sent are read and dropped
            if not sock.recv(65536, socket.MSG_DONTWAIT):
                return False
    except BlockingIOError:
        return True
    except OSError:
        return False


@dataclass
class IdleResult:
    held: int
    still: int  # still open when the server's memory was read
    failures: dict[str, int]
    seconds: float
    rss_before: int
    rss_after: int
    client_cpu: float  # shares of a core while connecting, all client processes together
    server_cpu: float

    @property
    def rate(self) -> float:
        return self.held / self.seconds if self.seconds else 0.0

    @property
    def kib_each(self) -> float:
        return (self.rss_after - self.rss_before) / max(self.held, 1) / KIB


def hold_idle(
    args: argparse.Namespace, port: int, usernames: list[str], server: psutil.Process, name: str
) -> IdleResult:
    context = multiprocessing.get_context("spawn")
    workers = max(1, args.idle_workers)
    timeout = args.transport_timeout
    children, pipes = [], []
    try:
        for i in range(workers):
            ours, theirs = context.Pipe()
            job = IdleJob(port, usernames[i::workers], f"{name}-{i}", args.idle_window, timeout)
            child = context.Process(target=idle_worker, args=(job, theirs), daemon=True)
            child.start()
            children.append(child)
            pipes.append(ours)
        for pipe in pipes:  # imported and waiting: their start-up is not timed
            _receive(pipe, 60)
        time.sleep(1.0)  # the server settles after provisioning
        rss_before = tree_rss(server)
        with CpuWatch(server) as watch:
            for pipe in pipes:
                pipe.send("go")
            reports = [_receive(pipe, timeout + 30) for pipe in pipes]
        time.sleep(args.idle_hold)  # held a while: the last connects' work is done, none drops
        rss_after = tree_rss(server)
        for pipe in pipes:
            pipe.send("count")
        still = sum(_receive(pipe, timeout) for pipe in pipes)
        for pipe in pipes:
            pipe.send("close")
    finally:
        for child in children:
            child.join(30)
            if child.is_alive():
                child.kill()
                child.join()
    failures: Counter[str] = Counter()
    for report in reports:
        failures.update(report["failures"])
    began = min(report["began"] for report in reports)
    last = max(report["last"] for report in reports)
    held = sum(report["held"] for report in reports)
    seconds = last - began
    client_cpu = sum(report["cpu"] for report in reports) / seconds if seconds else 0.0
    return IdleResult(
        held, still, dict(failures), seconds, rss_before, rss_after, client_cpu, watch.share
    )


def _receive(conn: Connection, timeout: float) -> Any:
    if not conn.poll(timeout):
        raise TimeoutError(f"no word from a client process within {timeout:.0f} s")
    return conn.recv()


def idle_rows(args: argparse.Namespace, work: Path, target: Target) -> list[Row]:
    count = args.idle_connections
    began = time.monotonic()
    tokens = asyncio.run(_idle_devices(target, count))
    made = time.monotonic() - began
    note(f"  {count} idle devices made in {made:.0f} s ({count / made:,.0f}/s)")
    # A new server on the same database holds them: memory the old one freed (but kept) after
    # making the devices would otherwise be reused by the connections and hide their cost.
    target.server.stop()
    limit = max(12_000, count + 1_000)
    with otakit(target.backend, limit, "", target.database_url) as fresh:
        time.sleep(1.0)  # started and settled
        with spying(args.py_spy, fresh.process.pid, f"idle-{target.backend}"):
            ours = hold_idle(args, fresh.mqtt_port, tokens, fresh.process, "otakit")
    note(f"  otakit [{target.backend}]: {_idle_text(ours)}")
    mosquitto = start_mosquitto(work / f"idle-{target.backend}")
    try:
        theirs = hold_idle(args, mosquitto.port, tokens, psutil.Process(mosquitto.process.pid), "m")
    finally:
        stop(mosquitto.process)
    note(f"  mosquitto: {_idle_text(theirs)}")
    held_met = ours.still >= IDLE_GOAL_COUNT and ours.kib_each <= IDLE_GOAL_KIB
    rate_ratio = ours.rate / theirs.rate if theirs.rate else 0.0
    return [
        Row(
            f"idle MQTT connections held ({count:,} tried)",
            f">= {IDLE_GOAL_COUNT:,} at <= {IDLE_GOAL_KIB:g} KiB each",
            target.backend,
            f"{ours.still:,} held, {ours.kib_each:.1f} KiB each{_failed(ours)}",
            held_met,
            f"mosquitto {theirs.still:,} held, {theirs.kib_each:.1f} KiB each{_failed(theirs)}",
        ),
        Row(
            "MQTT connects/s (CONNECT + SUBSCRIBE)",
            f">= {CONNECT_GOAL_RATE:,.0f}/s",
            target.backend,
            f"{ours.rate:,.0f}/s ({ours.held:,} in {ours.seconds:.1f} s), {rate_ratio:.2f}x "
            f"(otakit CPU {ours.server_cpu:.0%}, clients {ours.client_cpu:.0%})",
            ours.rate >= CONNECT_GOAL_RATE and ours.held == count,
            f"mosquitto {theirs.rate:,.0f}/s ({theirs.held:,} in {theirs.seconds:.1f} s) "
            f"(mosquitto CPU {theirs.server_cpu:.0%}, clients {theirs.client_cpu:.0%})",
        ),
    ]


def _idle_text(result: IdleResult) -> str:
    return (
        f"{result.held} connected in {result.seconds:.1f} s, {result.still} still open, "
        f"RSS {result.rss_before / MIB:.0f} -> {result.rss_after / MIB:.0f} MiB, "
        f"failures {result.failures or 'none'}; server CPU {result.server_cpu:.0%}, "
        f"clients {result.client_cpu:.0%}"
    )


def _failed(result: IdleResult) -> str:
    lost = sum(result.failures.values())
    return f", {lost:,} failed ({', '.join(sorted(result.failures))})" if lost else ""


# ---- the run --------------------------------------------------------------------------------


def _csv(kind: Callable[[str], Any]) -> Callable[[str], list[Any]]:
    return lambda text: [kind(part.strip()) for part in text.split(",") if part.strip()]


def _backends(text: str) -> list[str]:
    names: list[str] = _csv(str)(text)
    unknown = set(names) - set(BACKENDS)
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown backends {sorted(unknown)}: {BACKENDS}")
    return names


def _parts(text: str) -> list[str]:
    names: list[str] = _csv(str)(text)
    unknown = set(names) - set(PARTS)
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown parts {sorted(unknown)}: {PARTS}")
    return names


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # benchmarks.fleet declares --db and --postgres-url for all its rows: then they are shared,
    # not added twice (it turns --db into a list itself).
    with contextlib.suppress(argparse.ArgumentError):
        parser.add_argument(
            "--db", type=_backends, default=list(BACKENDS), help="sqlite,postgresql (both)"
        )
    with contextlib.suppress(argparse.ArgumentError):
        parser.add_argument(
            "--postgres-url",
            default=os.environ.get(POSTGRES_URL_ENV, ""),
            help=f"an account that may create databases ({POSTGRES_URL_ENV})",
        )
    group = parser.add_argument_group("device transports (benchmarks.fleet_transports)")
    add = group.add_argument
    add("--transports", type=_parts, default=list(PARTS), help="http,coap,mqtt,idle (all)")
    add("--idle-connections", type=int, default=10_000, help="idle MQTT connections (10000)")
    add("--idle-workers", type=int, default=2, help="client processes holding them (2)")
    add("--idle-window", type=int, default=32, help="connects in flight per process (32)")
    add("--idle-hold", type=float, default=5.0, help="seconds held before counting (5)")
    add("--http-file-kib", type=int, default=4096, help="file behind the HTTP/MQTT rows (4096)")
    add("--http-chunk-kib", type=_csv(int), default=[4, 64], help="chunk sizes, KiB (4,64)")
    add("--http-connections", type=_csv(int), default=[1, 16], help="wrk connections (1,16)")
    add("--http-seconds", type=float, default=5.0, help="seconds per wrk run (5)")
    add("--repeats", type=int, default=2, help="HTTP and MQTT runs per side, best counts (2)")
    add("--wrk-threads", type=int, default=1, help="wrk threads (1: a core for the server)")
    add("--coap-size-kib", type=int, default=1024, help="CoAP file, KiB (1024)")
    add("--coap-clients", type=_csv(int), default=[1], help="concurrent coap-clients (1)")
    add("--coap-repeats", type=int, default=3, help="fetches per side, best counts (3)")
    add("--coap-wait", type=float, default=30.0, help="coap-client -B: silence bound, s (30)")
    add("--mqtt-chunk-kib", type=int, default=64, help="MQTT chunk size, KiB (64)")
    add("--mqtt-devices", type=_csv(int), default=[1, 16], help="concurrent devices (1,16)")
    add("--mqtt-seconds", type=float, default=5.0, help="seconds per MQTT run (5)")
    add("--py-spy", type=Path, default=None, help="py-spy otakit into this directory (off)")
    add("--transport-timeout", type=float, default=600.0, help="bound on each phase, s (600)")


def run(args: argparse.Namespace) -> list[Row]:
    fds = raise_fd_limit()
    need = args.idle_connections + 500
    if "idle" in args.transports and fds < need:
        raise RuntimeError(f"RLIMIT_NOFILE hard limit {fds} < {need}: raise it (ulimit -Hn)")
    for tool in ("wrk", "nginx", "mosquitto", "coap-client-notls", "coap-server-notls"):
        if shutil.which(tool) is None:
            raise RuntimeError(
                f"{tool} is not on PATH (Debian: wrk nginx-light mosquitto libcoap3-bin)"
            )
    note(f"RLIMIT_NOFILE {fds}; {os.cpu_count()} CPUs (clients and servers share them)")
    rows: list[Row] = []
    load, busy = os.getloadavg()[0], psutil.cpu_times()
    with tempfile.TemporaryDirectory(prefix="otakit-transbench-") as name, ExitStack() as stack:
        work = Path(name)
        big = random.Random(SEED).randbytes(args.http_file_kib * KIB)
        small = random.Random(SEED + 1).randbytes(args.coap_size_kib * KIB)
        # nginx's worker runs as an unprivileged user when started as root: it must read these.
        www = work / "www"
        www.mkdir()
        for path in (work, www):
            path.chmod(0o755)
        (www / "fw.bin").write_bytes(big)
        (work / "coap.bin").write_bytes(small)
        services: list[Service] = []

        def stop_services() -> None:
            for service in reversed(services):
                stop(service.process)

        stack.callback(stop_services)
        if "http" in args.transports:
            services.append(nginx := start_nginx(work, www))
        if "coap" in args.transports:
            services.append(libcoap := start_libcoap(work, work / "coap.bin", COAP_BASELINE_PATH))
        if "mqtt" in args.transports:
            services.append(mosquitto := start_mosquitto(work))
            services.append(responder := start_responder(work, mosquitto.port, www / "fw.bin"))
        for backend in args.db:
            note(f"otakit on {backend}")
            (work / f"idle-{backend}").mkdir()
            connections = max(12_000, args.idle_connections + 1_000)
            with otakit(backend, connections, args.postgres_url) as target:
                asyncio.run(_with_package(target, "http", big))
                asyncio.run(_with_package(target, "coap", small))
                if "http" in args.transports:
                    rows += http_rows(args, work, target, nginx, big)
                if "coap" in args.transports:
                    rows += coap_rows(args, work, target, libcoap, small)
                if "mqtt" in args.transports:
                    rows += mqtt_rows(args, target, mosquitto, responder, big)
                if "idle" in args.transports:
                    rows += idle_rows(args, work, target)
    return [*rows, machine_row(load, busy)]


def machine_row(load: float, before: Any) -> Row:
    """How busy the machine was: the figures are only as quiet as the machine they ran on."""
    after = psutil.cpu_times()
    idle = (after.idle + after.iowait) - (before.idle + before.iowait)
    total = sum(after) - sum(before)
    return Row(
        "machine during the run (informative)",
        "",
        "-",
        f"{os.cpu_count()} CPUs busy {1 - idle / total:.0%}; 1-min load "
        f"{load:.1f} at start, {os.getloadavg()[0]:.1f} at end",
        None,
        "clients, servers and anything else running share the CPUs",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    rows = run(parser.parse_args())
    print_table(rows)


if __name__ == "__main__":
    main()
