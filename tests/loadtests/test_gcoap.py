"""otaload.gcoap against real servers: otakit's CoAP device API, libcoap's example server, and a
hand-made UDP server for what a well-behaved server never does (lost datagrams, resets, separate
and duplicated responses, stale notifications, inconsistent blocks)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import gevent
import httpx
import pytest
from aiocoap import Message
from aiocoap.numbers.codes import Code
from aiocoap.numbers.types import Type
from aiocoap.optiontypes import BlockOption
from otaload.gcoap import (
    BlockwiseError,
    CoapClient,
    CoapClosed,
    CoapReset,
    CoapTimeout,
    ObservationEnded,
)

from otatarget import local, rest

FIRMWARE = os.urandom(5000)  # five 1024-byte blocks, the last one short


class Otakit:
    def __init__(self, server: local.LocalServer, http: httpx.Client) -> None:
        self.server, self.http = server, http
        host, port = server.coap.rsplit(":", 1)
        self.host, self.port = host, int(port)
        self.package: dict[str, Any] = {}

    def client(self, **kwargs: Any) -> CoapClient:
        return CoapClient(self.host, self.port, timeout=10, **kwargs)

    def device(self) -> tuple[str, str]:
        """A new device: (id, token)."""
        device = rest.call(self.http, "POST", "/api/device", json={"name": uuid.uuid4().hex})
        device_id = device["id"]["id"]
        credentials = rest.call(self.http, "GET", f"/api/device/{device_id}/credentials")
        return device_id, credentials["credentialsId"]

    def assign(self, device_id: str) -> None:
        """Makes FIRMWARE the device's firmware, uploaded on first use."""
        device = rest.call(self.http, "GET", f"/api/device/{device_id}")
        if not self.package:
            info = rest.call(
                self.http,
                "POST",
                "/api/otaPackage",
                json={
                    "title": "gcoap-fw",
                    "version": "1.0",
                    "type": "FIRMWARE",
                    "deviceProfileId": device["deviceProfileId"],
                },
            )
            self.package = rest.call(
                self.http,
                "POST",
                f"/api/otaPackage/{info['id']['id']}",
                params={"checksumAlgorithm": "SHA256"},
                files={"file": ("fw.bin", FIRMWARE, "application/octet-stream")},
            )
        device["firmwareId"] = self.package["id"]
        rest.call(self.http, "POST", "/api/device", json=device)


@pytest.fixture(scope="module")
def otakit() -> Iterator[Otakit]:
    server = local.start({}, "gcoap")
    try:
        with rest.client(server.url, *server.tenant_admin) as http:
            yield Otakit(server, http)
    finally:
        server.stop()


# otakit


def test_telemetry_post_and_attributes_get(otakit: Otakit) -> None:
    device_id, token = otakit.device()
    rest.call(
        otakit.http,
        "POST",
        f"/api/plugins/telemetry/DEVICE/{device_id}/attributes/SHARED_SCOPE",
        json={"color": "red"},
    )
    with otakit.client() as client:
        posted = client.request(Code.POST, f"/api/v1/{token}/telemetry", b'{"temperature": 21}')
        assert posted.code == Code.CREATED
        got = client.request(Code.GET, f"/api/v1/{token}/attributes?sharedKeys=color")
        assert got.code == Code.CONTENT
        assert got.json()["shared"] == {"color": "red"}
        wrong = client.request(Code.GET, "/api/v1/no-such-token/attributes")
        assert wrong.code == Code.UNAUTHORIZED


def test_chunks_and_whole_blockwise_download(otakit: Otakit) -> None:
    device_id, token = otakit.device()
    otakit.assign(device_id)
    with otakit.client() as client:
        chunks = [client.request(Code.GET, f"/fw/{token}?size=1000&chunk={k}") for k in range(5)]
        assert all(chunk.code == Code.CONTENT for chunk in chunks)
        assert b"".join(chunk.payload for chunk in chunks) == FIRMWARE
        for size in (1024, 256):
            whole = client.get_blockwise(f"/fw/{token}", size)
            assert whole.code == Code.CONTENT
            assert whole.payload == FIRMWARE
        # One plain request: the first block, and Block2 says more follow.
        first = client.request(Code.GET, f"/fw/{token}", block2_size=512)
        assert (first.block2.block_number, first.block2.more, len(first.payload)) == (0, 1, 512)
        assert first.size2 == len(FIRMWARE)
        assert client.get_blockwise(f"/sw/{token}").code == Code.NOT_FOUND


def test_observe_sees_the_firmware_assignment_then_cancel(otakit: Otakit) -> None:
    device_id, token = otakit.device()
    with otakit.client() as client:
        observation = client.observe(f"/api/v1/{token}/attributes")
        assert observation.first.code == Code.CONTENT
        assert observation.first.observe is not None
        assert observation.next(0.2) is None  # nothing changed yet
        otakit.assign(device_id)
        notification = observation.next(10)
        assert notification is not None
        pushed = notification.json()
        assert pushed["fw_title"] == "gcoap-fw"
        assert pushed["fw_size"] == len(FIRMWARE)
        assert observation.cancel() is True
        assert not observation.active
        with pytest.raises(ObservationEnded):
            observation.next(0.1)
        # The client goes on after the deregistration.
        assert client.request(Code.GET, f"/api/v1/{token}/attributes").code == Code.CONTENT


def test_100_devices_in_greenlets(otakit: Otakit) -> None:
    device_id, token = otakit.device()
    otakit.assign(device_id)

    def device(n: int) -> bytes:
        with otakit.client() as client:
            posted = client.request(Code.POST, f"/api/v1/{token}/telemetry", b'{"n": %d}' % n)
            assert posted.code == Code.CREATED
            assert client.get_blockwise(f"/fw/{token}").payload == FIRMWARE
            chunk = client.request(Code.GET, f"/fw/{token}?size=1000&chunk={n % 5}")
            return chunk.payload

    started = time.monotonic()
    jobs = [gevent.spawn(device, n) for n in range(100)]
    gevent.joinall(jobs, timeout=30, raise_error=True)
    assert all(job.successful() for job in jobs)
    for n, job in enumerate(jobs):
        assert job.value == FIRMWARE[(n % 5) * 1000 : (n % 5 + 1) * 1000]
    assert time.monotonic() - started < 30


# libcoap's example server


def libcoap_server(*options: str) -> Iterator[CoapClient]:
    binary = next(
        filter(None, map(shutil.which, ("coap-server", "coap-server-notls", "coap-server-openssl")))
    )
    port = local.free_port(socket.SOCK_DGRAM)
    process = subprocess.Popen(
        [binary, "-A", "127.0.0.1", "-p", str(port), *options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_bound(port, process)
        with CoapClient("127.0.0.1", port, timeout=5, ack_timeout=0.2) as client:
            yield client
    finally:
        process.terminate()
        process.wait(5)


def _wait_bound(port: int, process: subprocess.Popen[bytes]) -> None:
    """Until the server holds the port (without sending it anything: -l counts datagrams)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and process.poll() is None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return
        time.sleep(0.02)
    raise RuntimeError("coap-server did not start")


needs_libcoap = pytest.mark.skipif(
    not any(map(shutil.which, ("coap-server", "coap-server-notls", "coap-server-openssl"))),
    reason="libcoap's coap-server is not installed",
)


@needs_libcoap
def test_libcoap_lost_response_is_recovered_by_retransmission() -> None:
    for client in libcoap_server("-l", "1"):  # the server's first datagram is dropped
        started = time.monotonic()
        response = client.request(Code.GET, "/")
        assert response.code == Code.CONTENT
        assert b"libcoap" in response.payload
        assert time.monotonic() - started >= 0.2  # it took a retransmission


@needs_libcoap
def test_libcoap_separate_response_and_observe() -> None:
    for client in libcoap_server():
        started = time.monotonic()
        response = client.request(Code.GET, "/async?1")  # answered after 1 s, separately
        assert (response.code, response.payload) == (Code.CONTENT, b"done")
        assert time.monotonic() - started >= 0.9
        observation = client.observe("/time")  # notifies every second
        first = observation.first.observe
        assert first is not None
        notification = observation.next(3)
        assert notification is not None and notification.observe is not None
        assert notification.observe > first
        assert observation.cancel() is True


# A hand-made server: each datagram it gets goes to `handler`, which returns what to send back.

Handler = Callable[[Message], list[bytes]]


class RawServer:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.received: list[Message] = []
        self.peer: Any = None
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopping:
            try:
                datagram, self.peer = self.sock.recvfrom(65536)
            except TimeoutError:
                continue
            message = Message.decode(datagram)
            self.received.append(message)
            for reply in self.handler(message):
                self.sock.sendto(reply, self.peer)

    def send(self, datagram: bytes) -> None:
        self.sock.sendto(datagram, self.peer)

    def client(self, **kwargs: Any) -> CoapClient:
        return CoapClient("127.0.0.1", self.port, **{"ack_timeout": 0.1, **kwargs})

    def stop(self) -> None:
        self.stopping = True
        self.thread.join()
        self.sock.close()


@pytest.fixture
def raw() -> Iterator[Callable[[Handler], RawServer]]:
    servers: list[RawServer] = []

    def start(handler: Handler) -> RawServer:
        servers.append(RawServer(handler))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def make(
    mtype: Type,
    code: Code,
    mid: int,
    token: bytes = b"",
    payload: bytes = b"",
    **options: Any,
) -> bytes:
    message = Message(code=code, payload=payload, **options)
    message.mtype, message.mid, message.token = mtype, mid, token
    return bytes(message.encode())


def piggybacked(request: Message, payload: bytes = b"ok", **options: Any) -> bytes:
    return make(Type.ACK, Code.CONTENT, request.mid, request.token, payload, **options)


def test_retransmits_a_lost_request_with_the_same_message(
    raw: Callable[[Handler], RawServer],
) -> None:
    server = raw(lambda request: [] if len(server.received) == 1 else [piggybacked(request)])
    with server.client() as client:
        started = time.monotonic()
        assert client.request(Code.GET, "/x").payload == b"ok"
        waited = time.monotonic() - started
    first, again = server.received
    assert (again.mid, again.token, again.opt.uri_path) == (first.mid, first.token, ("x",))
    assert 0.1 <= waited < 0.5  # ACK_TIMEOUT .. ACK_TIMEOUT * ACK_RANDOM_FACTOR, once


def test_gives_up_after_max_retransmit_and_times_out(raw: Callable[[Handler], RawServer]) -> None:
    server = raw(lambda request: [])
    with server.client(ack_timeout=0.02, max_retransmit=3) as client:
        with pytest.raises(CoapTimeout) as error:
            client.request(Code.GET, "/silent")
        assert error.value.cause == "timeout"
        assert len(server.received) == 4  # the first transmission and 3 retransmissions
        assert len({message.mid for message in server.received}) == 1
    # Acknowledged but never answered: the request's own timeout ends it.
    server.handler = lambda request: [make(Type.ACK, Code.EMPTY, request.mid)]
    with server.client() as client:
        started = time.monotonic()
        with pytest.raises(CoapTimeout):
            client.request(Code.GET, "/acked", timeout=0.5)
        assert 0.45 <= time.monotonic() - started < 1.5


def test_reset(raw: Callable[[Handler], RawServer]) -> None:
    server = raw(lambda request: [make(Type.RST, Code.EMPTY, request.mid)])
    with server.client() as client:
        with pytest.raises(CoapReset) as error:
            client.request(Code.GET, "/r")
        assert error.value.cause == "reset"


def test_separate_response_is_acknowledged_once_and_its_duplicate_ignored(
    raw: Callable[[Handler], RawServer],
) -> None:
    mids: list[int] = []

    def handler(request: Message) -> list[bytes]:
        if request.mtype != Type.CON:
            return []  # our client's ACKs
        mids.append(0x4240 + len(mids))  # a new message ID for each response, as servers do
        response = make(Type.CON, Code.CONTENT, mids[-1], request.token, b"late")
        # An empty ACK, the response, then the response again (as if our ACK were lost).
        return [make(Type.ACK, Code.EMPTY, request.mid), response, response]

    server = raw(handler)
    with server.client() as client:
        assert client.request(Code.GET, "/s").payload == b"late"
        assert client.request(Code.GET, "/s").payload == b"late"  # the client is still fine
        gevent.sleep(0.1)
    acks = [m for m in server.received if m.mtype == Type.ACK]
    # Each copy acknowledged, the same way.
    assert [m.mid for m in acks] == [mids[0], mids[0], mids[1], mids[1]]
    assert all(m.code == Code.EMPTY and m.token == b"" for m in acks)


def test_unknown_response_gets_a_reset(raw: Callable[[Handler], RawServer]) -> None:
    server = raw(lambda request: [] if request.mtype != Type.CON else [piggybacked(request)])
    with server.client() as client:
        client.request(Code.GET, "/a")
        server.send(make(Type.CON, Code.CONTENT, 7, b"stray", b"?"))
        gevent.sleep(0.1)
    assert [(m.mtype, m.mid) for m in server.received[1:]] == [(Type.RST, 7)]


def test_notifications_in_freshness_order_then_ended(
    raw: Callable[[Handler], RawServer],
) -> None:
    def handler(request: Message) -> list[bytes]:
        if request.mtype != Type.CON or request.opt.observe != 0:
            return []
        token = request.token
        return [
            piggybacked(request, b"5", observe=5),
            make(Type.CON, Code.CONTENT, 100, token, b"7", observe=7),
            make(Type.NON, Code.CONTENT, 101, token, b"6", observe=6),  # stale: dropped
            make(Type.CON, Code.CONTENT, 100, token, b"7", observe=7),  # duplicate: dropped
            make(Type.NON, Code.CONTENT, 102, token, b"8", observe=8),
            make(Type.CON, Code.NOT_FOUND, 103, token, b"gone"),  # the server ends it
        ]

    server = raw(handler)
    with server.client() as client:
        observation = client.observe("/obs")
        assert observation.first.payload == b"5"
        seen = [observation.next(1), observation.next(1)]
        assert [n.payload if n else None for n in seen] == [b"7", b"8"]
        with pytest.raises(ObservationEnded) as ended:
            observation.next(1)
        assert ended.value.response is not None
        assert ended.value.response.code == Code.NOT_FOUND
        assert not observation.active
    # The server's thread records what it receives a moment after the client sent it.
    deadline = time.monotonic() + 2
    while len([m for m in server.received if m.mtype == Type.ACK]) < 3:
        if time.monotonic() > deadline:
            break
        time.sleep(0.01)
    acks = sorted(m.mid for m in server.received if m.mtype == Type.ACK)
    assert acks == [100, 100, 103]  # confirmable ones, the duplicate too


def test_cancel_without_a_request_resets_the_next_notification(
    raw: Callable[[Handler], RawServer],
) -> None:
    tokens: list[bytes] = []

    def handler(request: Message) -> list[bytes]:
        if request.mtype != Type.CON:
            return []
        tokens.append(request.token)
        return [piggybacked(request, b"0", observe=0)]

    server = raw(handler)
    with server.client() as client:
        observation = client.observe("/obs")
        assert observation.cancel(active=False) is False
        server.send(make(Type.NON, Code.CONTENT, 50, tokens[0], b"1", observe=1))
        gevent.sleep(0.1)
    assert [(m.mtype, m.mid) for m in server.received[1:]] == [(Type.RST, 50)]


def test_inconsistent_blocks(raw: Callable[[Handler], RawServer]) -> None:
    def handler(request: Message) -> list[bytes]:
        if request.mtype != Type.CON:
            return []
        number = request.opt.block2.block_number
        # Block 1 comes back as block 2: its offset is not the one asked for.
        answered = BlockOption.BlockwiseTuple(2 if number == 1 else number, True, 4)
        return [piggybacked(request, b"x" * 256, block2=answered)]

    server = raw(handler)
    with server.client() as client:
        with pytest.raises(BlockwiseError) as error:
            client.get_blockwise("/big", 256)
        assert error.value.cause == "blockwise"


def test_close_fails_requests_in_progress(raw: Callable[[Handler], RawServer]) -> None:
    server = raw(lambda request: [])
    client = server.client()
    waiting = gevent.spawn(client.request, Code.GET, "/never")
    gevent.sleep(0.05)
    client.close()
    with pytest.raises(CoapClosed) as error:
        waiting.get(timeout=1)
    assert error.value.cause == "closed"
    with pytest.raises(CoapClosed):
        client.request(Code.GET, "/after")


def test_a_registration_the_server_does_not_take(raw: Callable[[Handler], RawServer]) -> None:
    server = raw(lambda request: [piggybacked(request, b"plain")])  # no Observe option
    with server.client() as client:
        observation = client.observe("/not-observable")
        assert observation.first.payload == b"plain"
        assert not observation.active
        with pytest.raises(ObservationEnded):
            observation.next(0.1)
