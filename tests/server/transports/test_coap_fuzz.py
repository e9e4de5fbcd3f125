"""A CoAP datagram fuzzer: real clients' datagrams, recorded, mutated with a fixed seed and sent
to a server of the test's own, while an honest device downloads its firmware block by block.

It fails on a traceback in the server's log, on more warning lines than the throttle lets
through (one per kind here), on a 5.00 answer, on a server that stops answering, and on any
wrong byte of the honest download. Bounded: FUZZ_DATAGRAMS datagrams, at most FUZZ_SECONDS.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiocoap
import pytest
from aiocoap.numbers.codes import Code

from tests.conftest import TenantContext
from tests.support import coap_datagrams as wire
from tests.support.coap import CoapClient, libcoap_client
from tests.support.coap_datagrams import RawEndpoint
from tests.support.coap_mutations import Mutator
from tests.support.devices import Provisioned, provision
from tests.support.process import ServerProcess
from tests.support.server_log import coap_warnings, dedicated_server, tenant_on
from tests.support.udp_recorder import UdpRecorder

SEED = 20_261_202
FUZZ_DATAGRAMS = 20_000
FUZZ_SECONDS = 75.0
SENDERS = 4  # source ports, so the server sees several strangers
PROBE_EVERY = 50  # a probe request per this many datagrams; at most two unanswered
PROBE_TIMEOUT = 15.0
TARGET = bytes((i * 13 + 1) % 256 for i in range(3000))  # the fuzzed requests' device
FIRMWARE = bytes((i * 31 + 7) % 251 for i in range(40_000))  # the honest device's


@pytest.fixture(scope="module")
def coap_server(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with dedicated_server(backend, tmp_path_factory.mktemp(f"coap-fuzz-{backend}")) as server:
        yield server


async def observe(client: CoapClient, path: str, tenant: TenantContext, shared: str) -> None:
    """An observation with a confirmable notification (acknowledged), then cancelled."""
    message = aiocoap.Message(code=aiocoap.GET, uri=client.base + path, observe=0)
    request = client.context.request(message)
    await request.response
    notifications = aiter(request.observation)
    await asyncio.to_thread(tenant.api.post, shared, {"fuzz": 1})
    await asyncio.wait_for(anext(notifications), 10)
    request.observation.cancel()
    await asyncio.to_thread(tenant.api.post, shared, {"fuzz": 2})
    await asyncio.sleep(0.5)


def record_corpus(tenant: TenantContext, target: Provisioned, port: int) -> list[bytes]:
    """What aiocoap and coap-client send for downloads, attributes, observation and telemetry,
    plus the empty messages (ping, acknowledgement, reset) that they send only now and then."""
    token, shared = target.token, f"/api/plugins/telemetry/DEVICE/{target.device_id}/SHARED_SCOPE"
    with UdpRecorder(port) as recorder:
        with CoapClient(recorder.port) as client:
            for index in range(3):
                client.get(f"/fw/{token}?size=512&chunk={index}")
            for block in [(0, 6), (1, 6), (3, 4), (0, 2)]:
                client.get(f"/fw/{token}", block2=block, blockwise=False)
            client.get(f"/api/v1/{token}/firmware?title={target.title}&version={target.version}")
            client.get(f"/sw/{token}")
            client.get(f"/api/v1/{token}/attributes?clientKeys=model&sharedKeys=fw_title,fw_size")
            client.post(f"/api/v1/{token}/telemetry", b'{"fw_state":"DOWNLOADING"}')
            client.post(f"/api/v1/{token}/attributes", b'{"model":"C1"}')
            client.run(observe(client, f"/api/v1/{token}/attributes", tenant, shared))
        base = f"coap://127.0.0.1:{recorder.port}"
        for args in [
            ["-m", "get", "-b", "64", f"{base}/fw/{token}"],
            ["-m", "get", f"{base}/fw/{token}?size=100&chunk=1"],
            ["-m", "get", "-N", f"{base}/api/v1/{token}/attributes?sharedKeys=fw_title"],
            ["-m", "post", "-e", '{"fw_state":"DOWNLOADED"}', f"{base}/api/v1/{token}/telemetry"],
            ["-m", "put", "-e", "{}", f"{base}/api/v1/{token}/attributes"],
            ["-m", "get", "-s", "1", f"{base}/api/v1/{token}/attributes"],
        ]:
            subprocess.run([libcoap_client(), "-B", "5", *args], capture_output=True, timeout=30)
        recorded = list(recorder.recorded)
    observe_off = wire.request(f"/api/v1/{token}/attributes", extra=[(wire.OBSERVE, b"\x01")])
    empty = [wire.encode(kind, wire.EMPTY, 7) for kind in (wire.CON, wire.ACK, wire.RST)]
    return [*recorded, *empty, observe_off]


@dataclass
class HonestDevice:
    """Downloads its firmware block by block, again and again, until told to stop."""

    port: int
    device: Provisioned
    stop: threading.Event = field(default_factory=threading.Event)
    downloads: int = 0
    failure: str | None = None

    def run(self) -> None:
        try:
            with CoapClient(self.port) as client:
                while not self.stop.is_set() or self.downloads == 0:
                    received = self._download(client)
                    if received != self.device.data:
                        self.failure = f"download {self.downloads + 1}: wrong bytes"
                        return
                    self.downloads += 1
        except Exception as error:  # reported by the test, not lost in the thread
            self.failure = repr(error)

    def _download(self, client: CoapClient) -> bytes:
        received, number = b"", 0
        while True:
            response = client.get(f"/fw/{self.device.token}", block2=(number, 6), blockwise=False)
            assert response.code == Code.CONTENT, response
            received += response.payload
            if not response.opt.block2.more:
                return received
            number += 1


def udp_receive_buffer_drops() -> int:
    """Datagrams this machine dropped for full receive buffers (all sockets), if Linux says."""
    try:
        lines = Path("/proc/net/snmp").read_text().splitlines()
        udp = [line.split() for line in lines if line.startswith("Udp:")]
        return int(dict(zip(udp[0], udp[1], strict=True))["RcvbufErrors"])
    except (OSError, KeyError, IndexError, ValueError):
        return 0


@dataclass
class FuzzRun:
    sent: int = 0
    seconds: float = 0.0
    dropped: int = 0  # by full receive buffers, on the whole machine
    replies: collections.Counter[str] = field(default_factory=collections.Counter)


def fuzz(port: int, mutate: Mutator, count: int, limit: float) -> FuzzRun:
    """Sends `count` mutated datagrams, most with a message ID of their own (or aiocoap takes
    them for duplicates), and never for longer than `limit` seconds. A probe request goes with
    every PROBE_EVERY datagrams, and sending waits while more than two are unanswered: so the
    fuzzer goes no faster than the server reads, and notices a server that stopped answering."""
    run, started, drops = FuzzRun(), time.monotonic(), udp_receive_buffer_drops()
    senders = [RawEndpoint(port) for _ in range(SENDERS)]
    probes = Probes(port)
    mids = itertools.count(1)
    try:
        for sent in range(count):
            data = mutate()
            if len(data) >= 4 and sent % 10:
                data = data[:2] + (next(mids) % 65536).to_bytes(2, "big") + data[4:]
            senders[sent % SENDERS].send(data)
            if sent % PROBE_EVERY == 0:
                probes.send()
            probes.wait(2 if sent < count - 1 else 0, f"after {sent} datagrams")
            assert time.monotonic() - started < limit, f"only {sent} datagrams in {limit} s"
            for sender in senders:
                for reply in sender.replies(0):
                    run.replies[reply.code_text] += 1
            run.sent = sent + 1
    finally:
        for endpoint in [*senders, probes.endpoint]:
            endpoint.sock.close()
    run.seconds = time.monotonic() - started
    run.dropped = udp_receive_buffer_drops() - drops
    return run


class Probes:
    """Requests whose answers tell how far the server has read. UDP may drop any datagram, a
    probe too, so an answer to a later probe also answers the earlier ones, and an unanswered
    one is sent again before the server is declared silent."""

    def __init__(self, port: int) -> None:
        self.endpoint = RawEndpoint(port)
        self._ids = itertools.count(1)
        self._pending: collections.deque[int] = collections.deque()

    def send(self, probe: int | None = None) -> None:
        if probe is None:
            probe = next(self._ids)
            self._pending.append(probe)
        token = probe.to_bytes(4, "big")
        self.endpoint.send(wire.request("/probe", mid=probe % 65536, token=token))

    def wait(self, unanswered: int, when: str) -> None:
        attempts = 0
        while len(self._pending) > unanswered:
            reply = next(self.endpoint.replies(PROBE_TIMEOUT / 3), None)
            if reply is None:
                attempts += 1
                assert attempts < 3, f"the server stopped answering {when}"
                self.send(self._pending[-1])
                continue
            answered = int.from_bytes(reply.token, "big")
            while self._pending and self._pending[0] <= answered:
                self._pending.popleft()


def test_fuzzed_datagrams_never_hurt_the_server_nor_an_honest_device(
    coap_server: ServerProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    tenant = tenant_on(coap_server)
    target, honest = provision(tenant, TARGET), provision(tenant, FIRMWARE)
    corpus = record_corpus(tenant, target, coap_server.coap_port)
    assert len(corpus) > 50, len(corpus)
    log_before = len(coap_server.log().splitlines())

    device = HonestDevice(coap_server.coap_port, honest)
    downloader = threading.Thread(target=device.run, daemon=True)
    downloader.start()
    try:
        run = fuzz(coap_server.coap_port, Mutator(corpus, SEED), FUZZ_DATAGRAMS, FUZZ_SECONDS)
    finally:
        device.stop.set()
        downloader.join(60)
    assert device.failure is None, device.failure
    assert device.downloads >= 1

    with RawEndpoint(coap_server.coap_port) as raw:  # still answering, and at once
        reply = raw.exchange(wire.request(f"/fw/{honest.token}", mid=1), timeout=5)
    assert reply is not None and reply.payload == FIRMWARE[:1024]
    log = coap_server.log()
    assert "Traceback" not in log
    assert " ERROR " not in log
    kinds = coap_warnings(log)
    assert all(count == 1 for count in kinds.values()), kinds
    assert run.replies["5.00"] == 0, run.replies
    written = log.splitlines()[log_before:]
    with capsys.disabled():
        print(
            f"\nCoAP fuzz: {run.sent} datagrams in {run.seconds:.1f} s "
            f"({run.sent / run.seconds:.0f}/s, {run.dropped} dropped by full UDP buffers), "
            f"{sum(run.replies.values())} replies "
            f"{dict(run.replies.most_common(8))}; honest downloads: {device.downloads}; "
            f"log lines written: {len(written)}, warning kinds: {dict(kinds)}"
        )
