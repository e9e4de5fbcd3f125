"""Firmware download throughput of otakit's device transports, next to a baseline for each.

The same bytes are fetched, in the same run and by the same client code, from otakit and from a
well-known server (benchmarks/transport_baselines.py):

- HTTP: otakit's /api/v1/{token}/firmware vs nginx serving the file statically; the whole file,
  then fixed-size chunks (otakit's size/chunk query vs HTTP Range on nginx), on one keep-alive
  httpx client.
- MQTT: otakit's v2/fw chunk topics vs mosquitto relaying a paho responder's answers; one chunk
  request (QoS 1) at a time, as devices do.
- CoAP: otakit's /fw/{token} vs libcoap's coap-server-notls; aiocoap's blockwise GET (Block2).

Each measurement is repeated (otakit and baseline alternating) and the best time is kept. Every
download is checked against the source's SHA-256; a mismatch exits with status 1.

    python -m benchmarks.transport_throughput [--size-mib 32] [--coap-size-kib 1024]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import hashlib
import itertools
import math
import queue
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import aiocoap
import httpx
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode
from tests.support.process import ServerProcess, start_server

from benchmarks.transport_baselines import (
    Service,
    no_delay,
    start_libcoap,
    start_mosquitto,
    start_nginx,
    start_responder,
    stop,
)

KIB = 1024
MIB = 1024 * KIB
SEED = 20240601
DEMO_USER, DEMO_PASSWORD = "tenant@thingsboard.org", "tenant"
RESPONSE_FILTER = "v2/fw/response/+/chunk/+"
TIMEOUT = 120.0

Fetch = Callable[[], list[bytes]]


class ChecksumMismatch(Exception):
    pass


@dataclass(frozen=True)
class Payload:
    data: bytes
    sha256: str

    @classmethod
    def random(cls, size: int, seed: int) -> Payload:
        data = random.Random(seed).randbytes(size)
        return cls(data, hashlib.sha256(data).hexdigest())

    @property
    def size(self) -> int:
        return len(self.data)

    def verify(self, what: str, pieces: list[bytes]) -> None:
        digest, size = hashlib.sha256(), 0
        for piece in pieces:
            digest.update(piece)
            size += len(piece)
        if (size, digest.hexdigest()) != (self.size, self.sha256):
            raise ChecksumMismatch(
                f"{what}: expected {self.size} bytes {self.sha256}, got {size} bytes "
                f"{digest.hexdigest()}"
            )


# The device side. Each function is used unchanged against otakit and against the baseline;
# pieces are kept as received and hashed after the clock stops, so hashing costs neither side.


def http_whole(client: httpx.Client, url: str) -> list[bytes]:
    pieces: list[bytes] = []
    with client.stream("GET", url) as response:
        response.raise_for_status()
        pieces.extend(response.iter_raw())
    return pieces


# (index, start, end) of a chunk -> the URL and headers that fetch it from one server.
Locate = Callable[[int, int, int], tuple[str, dict[str, str]]]


def http_chunked(client: httpx.Client, size: int, chunk: int, locate: Locate) -> list[bytes]:
    pieces = []
    # A device knows fw_size from its shared attributes, so it asks for exactly these chunks.
    for index in range(math.ceil(size / chunk)):
        start, end = index * chunk, min((index + 1) * chunk, size)
        url, headers = locate(index, start, end)
        response = client.get(url, headers=headers).raise_for_status()
        if len(response.content) != end - start:
            raise ChecksumMismatch(f"{url} chunk {index}: {len(response.content)} bytes")
        pieces.append(response.content)
    return pieces


class MqttDevice:
    """A paho device that downloads by ThingsBoard's v2 chunk topics, one request at a time."""

    _request_ids = itertools.count(1)

    def __init__(self, port: int, username: str) -> None:
        self._responses: queue.Queue[paho.MQTTMessage] = queue.Queue()
        # (what, reason codes) from paho's network thread, to check connect and subscribe.
        events: queue.Queue[tuple[str, list[ReasonCode]]] = queue.Queue()
        self._client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"bench-{uuid.uuid4().hex[:8]}",
            protocol=MQTTProtocolVersion.MQTTv311,
        )
        self._client.username_pw_set(username)
        self._client.on_connect = lambda _c, _u, _f, code, _p: events.put(("connect", [code]))
        self._client.on_subscribe = lambda _c, _u, _m, codes, _p: events.put(("subscribe", codes))
        self._client.on_message = lambda _c, _u, message: self._responses.put(message)
        self._client.connect("127.0.0.1", port)
        no_delay(self._client)
        self._client.loop_start()
        try:
            self._expect(events, "connect")
            self._client.subscribe(RESPONSE_FILTER, qos=1)
            self._expect(events, "subscribe")
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _expect(events: queue.Queue[tuple[str, list[ReasonCode]]], wanted: str) -> None:
        what, codes = events.get(timeout=10)
        if what != wanted or any(code.is_failure for code in codes):
            raise RuntimeError(f"MQTT {wanted}: got {what} {codes}")

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def download(self, size: int, chunk: int) -> list[bytes]:
        request_id = next(self._request_ids)
        pieces = []
        for index in range(math.ceil(size / chunk)):
            self._client.publish(f"v2/fw/request/{request_id}/chunk/{index}", str(chunk), qos=1)
            message = self._responses.get(timeout=TIMEOUT)
            expected = f"v2/fw/response/{request_id}/chunk/{index}"
            if message.topic != expected:
                raise RuntimeError(f"MQTT: expected {expected}, got {message.topic}")
            pieces.append(bytes(message.payload))  # no copy: it is bytes
        return pieces


class CoapDevice:
    """aiocoap's client, driven synchronously; blockwise reassembly left to aiocoap."""

    def __init__(self) -> None:
        self._runner = asyncio.Runner()
        self._context = self._runner.run(aiocoap.Context.create_client_context())

    def close(self) -> None:
        try:
            self._runner.run(self._context.shutdown())
        finally:
            self._runner.close()

    def get(self, uri: str) -> list[bytes]:
        async def fetch() -> bytes:
            request = aiocoap.Message(code=aiocoap.GET, uri=uri)
            response = await self._context.request(request, handle_blockwise=True).response
            if not response.code.is_successful():
                raise RuntimeError(f"CoAP GET {uri}: {response.code} {response.payload!r}")
            return bytes(response.payload)

        return [self._runner.run(asyncio.wait_for(fetch(), TIMEOUT))]


# otakit's side: a tenant's package and a device that is assigned it.


@dataclass(frozen=True)
class Device:
    token: str
    title: str
    version: str = "1.0"


def provision(server: ServerProcess, payloads: dict[str, Payload]) -> dict[str, Device]:
    """A firmware package and a device per payload, through the REST API as a tenant would."""
    login = httpx.post(
        server.url + "/api/auth/login", json={"username": DEMO_USER, "password": DEMO_PASSWORD}
    ).raise_for_status()
    headers = {"X-Authorization": f"Bearer {login.json()['token']}"}
    devices = {}
    with httpx.Client(base_url=server.url, headers=headers, timeout=TIMEOUT) as client:
        profile = client.get("/api/deviceProfileInfo/default").raise_for_status().json()
        profile_id = {"entityType": "DEVICE_PROFILE", "id": profile["id"]["id"]}
        for name, payload in payloads.items():
            suffix = uuid.uuid4().hex[:8]
            device = Device(f"bench-{name}-{suffix}", f"bench-{name}-{suffix}")
            package = client.post(
                "/api/otaPackage",
                json={
                    "title": device.title,
                    "version": device.version,
                    "type": "FIRMWARE",
                    "deviceProfileId": profile_id,
                },
            ).raise_for_status()
            package_id = package.json()["id"]["id"]
            uploaded = client.post(
                f"/api/otaPackage/{package_id}",
                params={"checksumAlgorithm": "SHA256"},
                files={"file": ("fw.bin", payload.data, "application/octet-stream")},
            ).raise_for_status()
            if uploaded.json().get("checksum") != payload.sha256:
                raise ChecksumMismatch(f"otakit upload of {name}: {uploaded.json()}")
            client.post(
                "/api/device",
                params={"accessToken": device.token},
                json={
                    "name": device.token,
                    "deviceProfileId": profile_id,
                    "firmwareId": {"entityType": "OTA_PACKAGE", "id": package_id},
                },
            ).raise_for_status()
            devices[name] = device
    return devices


# Measurement and report.


@dataclass
class Row:
    transport: str
    mode: str
    size: int
    otakit: float  # best seconds
    baseline: float

    def rate(self, seconds: float) -> float:
        return self.size / MIB / seconds


def compare(
    transport: str, mode: str, payload: Payload, otakit: Fetch, baseline: Fetch, repeats: int
) -> Row:
    best = {"otakit": math.inf, "baseline": math.inf}
    fetches = {"otakit": otakit, "baseline": baseline}
    # Alternating, so a burst of noise from the rest of the machine does not hit one side only.
    for _ in range(repeats):
        for side, fetch in fetches.items():
            started = time.perf_counter()
            pieces = fetch()
            elapsed = time.perf_counter() - started
            payload.verify(f"{transport} {mode} ({side})", pieces)
            best[side] = min(best[side], elapsed)
    row = Row(transport, mode, payload.size, best["otakit"], best["baseline"])
    print(
        f"  {transport:5} {mode:34} otakit {figure(row.rate(row.otakit)):>8} MiB/s, "
        f"baseline {figure(row.rate(row.baseline)):>8} MiB/s",
        file=sys.stderr,
        flush=True,
    )
    return row


def size_text(size: int) -> str:
    return f"{size // MIB} MiB" if size % MIB == 0 else f"{size // KIB} KiB"


def figure(value: float) -> str:
    # Three significant digits or so: CoAP rates are well below 1 MiB/s.
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}" if value >= 1 else f"{value:.3f}"


def report(rows: list[Row], repeats: int) -> str:
    lines = [
        f"best of {repeats} runs each, otakit and baseline alternating; every download SHA-256 "
        "verified",
        "baselines: HTTP nginx static file (Range for chunks); MQTT mosquitto + paho responder "
        "(from memory); CoAP libcoap coap-server-notls",
        "",
    ]
    header = (
        f"{'transport':10}{'mode':38}{'otakit MiB/s':>14}{'baseline MiB/s':>16}"
        f"{'otakit/baseline':>17}"
    )
    lines += [header, "-" * len(header)]
    for row in rows:
        lines.append(
            f"{row.transport:10}{row.mode:38}{figure(row.rate(row.otakit)):>14}"
            f"{figure(row.rate(row.baseline)):>16}{figure(row.baseline / row.otakit) + 'x':>17}"
        )
    return "\n".join(lines)


def run(work: Path, size: int, coap_size: int, chunk: int, repeats: int) -> list[Row]:
    big = Payload.random(size, SEED)
    small = Payload.random(coap_size, SEED + 1)
    # nginx's worker runs as an unprivileged user when started as root: it must be able to read.
    www = work / "www"
    www.mkdir()
    for path in (work, www):
        path.chmod(0o755)
    (www / "fw.bin").write_bytes(big.data)
    (work / "coap.bin").write_bytes(small.data)

    with ExitStack() as stack:
        print("starting otakit, nginx, mosquitto, responder, coap-server-notls", file=sys.stderr)
        server = start_server(work / "otakit", extra_args=("--demo",))
        stack.callback(server.stop)
        services: list[Service] = []

        def stop_services() -> None:
            for service in reversed(services):
                stop(service.process)

        stack.callback(stop_services)
        services.append(nginx := start_nginx(work, www))
        services.append(mosquitto := start_mosquitto(work))
        services.append(start_responder(work, mosquitto.port, www / "fw.bin"))
        services.append(libcoap := start_libcoap(work, work / "coap.bin", "/fw/baseline"))
        devices = provision(server, {"main": big, "coap": small})
        main, coap = devices["main"], devices["coap"]

        http = stack.enter_context(httpx.Client(timeout=TIMEOUT))
        firmware = f"{server.url}/api/v1/{main.token}/firmware"
        query = {"title": main.title, "version": main.version}
        static = f"http://127.0.0.1:{nginx.port}/fw.bin"

        def otakit_chunk(index: int, _start: int, _end: int) -> tuple[str, dict[str, str]]:
            return f"{firmware}?{urlencode({**query, 'size': chunk, 'chunk': index})}", {}

        def nginx_chunk(_index: int, start: int, end: int) -> tuple[str, dict[str, str]]:
            return static, {"Range": f"bytes={start}-{end - 1}"}

        rows = [
            compare(
                "HTTP",
                f"whole file, {size_text(size)}",
                big,
                lambda: http_whole(http, f"{firmware}?{urlencode(query)}"),
                lambda: http_whole(http, static),
                repeats,
            ),
            compare(
                "HTTP",
                f"{size_text(chunk)} chunks, {size_text(size)}",
                big,
                lambda: http_chunked(http, size, chunk, otakit_chunk),
                lambda: http_chunked(http, size, chunk, nginx_chunk),
                repeats,
            ),
        ]

        mqtt_otakit = MqttDevice(server.mqtt_port, main.token)
        stack.callback(mqtt_otakit.close)
        mqtt_baseline = MqttDevice(mosquitto.port, main.token)
        stack.callback(mqtt_baseline.close)
        for mqtt_chunk in dict.fromkeys((chunk, MIB)):
            rows.append(
                compare(
                    "MQTT",
                    f"{size_text(mqtt_chunk)} chunks, {size_text(size)}",
                    big,
                    functools.partial(mqtt_otakit.download, size, mqtt_chunk),
                    functools.partial(mqtt_baseline.download, size, mqtt_chunk),
                    repeats,
                )
            )

        coap_device = CoapDevice()
        stack.callback(coap_device.close)
        coap_query = urlencode({"title": coap.title, "version": coap.version})
        rows.append(
            compare(
                "CoAP",
                f"whole file, Block2 1 KiB, {size_text(coap_size)}",
                small,
                lambda: coap_device.get(
                    f"coap://127.0.0.1:{server.coap_port}/fw/{coap.token}?{coap_query}"
                ),
                lambda: coap_device.get(f"coap://127.0.0.1:{libcoap.port}/fw/baseline"),
                repeats,
            )
        )
        return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=32, help="HTTP/MQTT payload (32)")
    parser.add_argument("--coap-size-kib", type=int, default=1024, help="CoAP payload (1024)")
    parser.add_argument("--chunk-kib", type=int, default=64, help="HTTP/MQTT chunk size (64)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement (3)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="otakit-transports-") as work:
        try:
            rows = run(
                Path(work),
                args.size_mib * MIB,
                args.coap_size_kib * KIB,
                args.chunk_kib * KIB,
                args.repeats,
            )
        except ChecksumMismatch as error:
            print(f"checksum mismatch: {error}", file=sys.stderr)
            return 1
    print(report(rows, args.repeats))
    return 0


if __name__ == "__main__":
    sys.exit(main())
