"""Malformed and odd CoAP input (issue 10, finding 8), through real sockets and real clients.

No datagram writes a traceback or more than one warning line per kind (the server here throttles
each kind to one line for the whole run); every request gets the answer RFC 7252 gives it, and
nothing a device sends makes the database fail (5.00) on SQLite or PostgreSQL.
"""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import aiocoap
import pytest
from aiocoap.numbers.codes import Code

from tests.support import coap_datagrams as wire
from tests.support.coap import CoapClient, libcoap_client
from tests.support.coap_datagrams import RawEndpoint
from tests.support.devices import Provisioned, provision
from tests.support.process import ServerProcess
from tests.support.server_log import coap_warnings, dedicated_server, tenant_on

DATA = bytes((i * 7 + 3) % 256 for i in range(5000))


@pytest.fixture(scope="module")
def coap_server(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with dedicated_server(backend, tmp_path_factory.mktemp(f"coap-hardening-{backend}")) as server:
        yield server


@pytest.fixture
def device(coap_server: ServerProcess) -> Provisioned:
    return provision(tenant_on(coap_server), DATA)


@pytest.fixture
def raw(coap_server: ServerProcess) -> Iterator[RawEndpoint]:
    with RawEndpoint(coap_server.coap_port) as endpoint:
        yield endpoint


@pytest.fixture
def coap(coap_server: ServerProcess) -> Iterator[CoapClient]:
    with CoapClient(coap_server.coap_port) as client:
        yield client


def assert_quiet(server: ServerProcess) -> None:
    """No traceback, nothing at error level, and at most the one line per kind the throttle
    lets through in a run."""
    log = server.log()
    assert "Traceback" not in log
    assert " ERROR " not in log
    kinds = coap_warnings(log)
    assert all(count == 1 for count in kinds.values()), kinds


_ping_ids = itertools.count(0x8000)


def replies_before_ping(raw: RawEndpoint) -> list[wire.Reply]:
    """What the server sent before it answered a ping sent now. The server reads datagrams in
    order and refuses malformed ones at once, so this is everything they were answered with."""
    mid = next(_ping_ids)  # a new message ID each time, or it is a duplicate
    raw.send(wire.encode(wire.CON, wire.EMPTY, mid))
    before = []
    for reply in raw.replies(timeout=5):
        if reply.mtype == wire.RST and reply.mid == mid:
            return before
        before.append(reply)
    raise AssertionError("the server did not answer a ping")


def coap_url(server: ServerProcess, device: Provisioned, suffix: str) -> str:
    return f"coap://127.0.0.1:{server.coap_port}/fw/{device.token}{suffix}"


def test_an_option_that_is_not_utf8_gets_bad_option_and_one_warning_line(
    coap_server: ServerProcess, raw: RawEndpoint
) -> None:
    for mid in range(300):
        # The 7-byte datagram of the report: CON GET, Uri-Path b"\xc3\x28".
        seven_bytes = bytes([0x40, 0x01, mid >> 8, mid & 0xFF, 0xB2, 0xC3, 0x28])
        reply = raw.exchange(seven_bytes)
        assert reply is not None and (reply.mtype, reply.code) == (wire.ACK, wire.BAD_OPTION)
    bad_query = wire.request("/fw/x", [b"size=\xff"], token=b"tok", mid=400)
    reply = raw.exchange(bad_query)
    assert reply is not None and reply.code == wire.BAD_OPTION and reply.token == b"tok"
    assert b"UTF-8" in reply.payload
    raw.send(wire.request([b"\xed\xa0\x80"], mtype=wire.NON, mid=401))  # a surrogate, NON
    assert replies_before_ping(raw) == []
    assert coap_warnings(coap_server.log())["coap-malformed"] == 1
    assert_quiet(coap_server)


FORMAT_ERRORS = {
    "token length 9": bytes([0x49, 0x01, 0, 1]) + b"123456789",
    "token length 15": bytes([0x4F, 0x01, 0, 1]),
    "token cut short": bytes([0x44, 0x01, 0, 1, 0xAA]),
    "reserved class 7.31": bytes([0x40, 0xFF, 0, 1]),
    "reserved class 1.00": bytes([0x40, 0x20, 0, 1]),
    "payload marker, no payload": wire.request("/fw/x") + b"\xff",
    "option nibble 15": wire.request("/fw/x") + b"\xf1a",
    "option length past the end": bytes([0x40, 0x01, 0, 1, 0xBD, 0x40]) + b"abc",
    "extended delta cut short": bytes([0x40, 0x01, 0, 1, 0xE0, 0x01]),
    "option number past 65535": bytes([0x40, 0x01, 0, 1, 0xE0, 0xFF, 0xFF, 0xE0, 0xFF, 0xFF]),
    "empty message with a token": bytes([0x41, 0x00, 0, 1, 0x07]),
    "empty message with a payload": bytes([0x40, 0x00, 0, 1, 0xFF, 0x01]),
}
DROPPED = {
    "too short": b"\x40\x01\x00",
    "version 2": bytes([0x80, 0x01, 0, 1]),
    "version 0": bytes([0x00, 0x01, 0, 1]),
    "reset with a code": bytes([0x70, 0x45, 0, 1]),
    "acknowledgement of a request": bytes([0x60, 0x01, 0, 1]),
    "empty non-confirmable": bytes([0x50, 0x00, 0, 1]),
}


def test_message_format_errors_are_reset_when_confirmable_and_dropped_otherwise(
    coap_server: ServerProcess, raw: RawEndpoint, device: Provisioned
) -> None:
    for name, datagram in FORMAT_ERRORS.items():
        con = bytearray(datagram)
        con[2:4] = (0x1000).to_bytes(2, "big")
        raw.send(bytes(con))
        replies = replies_before_ping(raw)
        assert [(r.mtype, r.code, r.mid) for r in replies] == [(wire.RST, 0, 0x1000)], name
        con[0] = con[0] & 0xCF | wire.NON << 4
        raw.send(bytes(con))
        assert replies_before_ping(raw) == [], name
    for name, datagram in DROPPED.items():
        raw.send(datagram)
        assert replies_before_ping(raw) == [], name
    # ... and the server still serves.
    reply = raw.exchange(wire.request(f"/fw/{device.token}", mid=2))
    assert reply is not None and reply.code == wire.CONTENT and reply.payload == DATA[:1024]
    assert_quiet(coap_server)


def test_observe_on_a_resource_that_is_not_observable(
    coap_server: ServerProcess, coap: CoapClient, device: Provisioned, tmp_path: Path
) -> None:
    async def observe(path: str) -> aiocoap.Message:
        message = aiocoap.Message(code=aiocoap.GET, uri=coap.base + path, observe=0)
        request = coap.context.request(message, handle_blockwise=False)
        response = await request.response
        if not request.observation.cancelled:  # a refused observation ends by itself
            request.observation.cancel()
        await asyncio.sleep(0.1)  # the client lets go of the observation
        return response

    whole = coap.run(observe(f"/fw/{device.token}"))
    assert whole.code == Code.CONTENT and whole.payload == DATA[:1024]
    assert whole.opt.observe is None  # answered, but not registered
    assert coap.run(observe(f"/fw/{device.token}?size=10&chunk=1")).payload == DATA[10:20]
    assert coap.run(observe("/api/v1/wrong/attributes")).code == Code.UNAUTHORIZED
    assert coap.run(observe(f"/api/v1/{device.token}/telemetry")).code == Code.METHOD_NOT_ALLOWED
    assert coap.run(observe("/nowhere")).code == Code.NOT_FOUND
    out = tmp_path / "observed.bin"
    url = coap_url(coap_server, device, "")
    subprocess.run(
        [libcoap_client(), "-m", "get", "-s", "2", "-B", "5", "-o", str(out), url],
        timeout=30,
        check=True,
    )
    assert out.read_bytes() == DATA
    assert_quiet(coap_server)


def test_options_the_server_does_not_understand(
    coap_server: ServerProcess, raw: RawEndpoint, device: Provisioned
) -> None:
    path = f"/fw/{device.token}"
    cases = [
        ("unknown critical option", [(2049, b"x")], wire.BAD_OPTION),
        ("If-Match", [(wire.IF_MATCH, b"etag")], wire.BAD_OPTION),
        ("Uri-Path-Abbrev", [(wire.URI_PATH_ABBREV, b"\x01")], wire.BAD_OPTION),
        ("unknown elective option", [(2050, b"x")], wire.CONTENT),
        ("Proxy-Uri", [(wire.PROXY_URI, b"coap://elsewhere/")], wire.PROXYING_NOT_SUPPORTED),
        ("Block2 of 4 bytes", [(wire.BLOCK2, wire.block(1 << 20, False, 6))], wire.BAD_OPTION),
        ("Block2 SZX 7", [(wire.BLOCK2, wire.block(0, False, 7))], wire.BAD_REQUEST),
        ("Uri-Path of 300 bytes", [(wire.URI_PATH, b"a" * 300)], wire.BAD_OPTION),
        ("Observe of 4 bytes, elective", [(wire.OBSERVE, b"\x00\x00\x00\x01")], wire.CONTENT),
    ]
    for mid, (name, extra, expected) in enumerate(cases, start=100):
        reply = raw.exchange(wire.request(path, extra=extra, mid=mid))
        assert reply is not None and reply.code == expected, (name, reply)
    telemetry = f"/api/v1/{device.token}/telemetry"
    blocks = [(wire.block(0, True, 6), wire.BAD_OPTION), (wire.block(0, False, 6), wire.CREATED)]
    for mid, (value, expected) in enumerate(blocks, start=200):
        datagram = wire.request(
            telemetry, method=wire.POST, mid=mid, extra=[(wire.BLOCK1, value)], payload=b"{}"
        )
        reply = raw.exchange(datagram)
        assert reply is not None and reply.code == expected, (value, reply)
    assert_quiet(coap_server)


def test_a_fault_of_the_server_itself_is_logged_once_with_its_traceback(tmp_path: Path) -> None:
    """What no device input can cause stays visible: here the package's bytes are gone."""
    with dedicated_server("sqlite", tmp_path / "server") as server:
        device = provision(tenant_on(server), DATA)
        for blob in (server.data_dir / "blobs").rglob("*"):
            if blob.is_file():
                blob.unlink()
        with CoapClient(server.coap_port) as coap:
            codes = {coap.get(f"/fw/{device.token}?size=10&chunk={i}").code for i in range(30)}
        assert codes == {Code.INTERNAL_SERVER_ERROR}
        log = server.log()
    assert coap_warnings(log) == {"coap-failed": 1}
    assert log.count("Traceback") == 1 and "BlobMissing" in log


def test_requests_overridden_mid_flight_cost_the_database_nothing(
    coap_server: ServerProcess, raw: RawEndpoint, device: Provisioned
) -> None:
    """A new request on the same token makes aiocoap give up the one before, whose database
    call then finishes anyway: cancelled half way, it would cost asyncpg its connection."""
    telemetry = f"/api/v1/{device.token}/telemetry"
    mids = itertools.count()
    for _ in range(20):
        for token in [bytes([n]) for n in range(20)]:  # in batches, or the socket drops some
            post = wire.request(
                telemetry, method=wire.POST, mid=next(mids), token=token, payload=b"{}"
            )
            raw.send(post)
            time.sleep(token[0] / 4000)  # the second comes while the first is at work
            raw.send(wire.request("/elsewhere", mid=next(mids), token=token))
        replies_before_ping(raw)
    time.sleep(1)  # the last database calls
    assert_quiet(coap_server)


async def response_to(coap: CoapClient, message: aiocoap.Message) -> aiocoap.Message:
    return await coap.context.request(message).response


def test_what_a_database_cannot_store_never_reaches_it(
    coap_server: ServerProcess, coap: CoapClient, device: Provisioned
) -> None:
    nul = "to%00ken"
    for path in [f"/fw/{nul}", f"/sw/{nul}", f"/api/v1/{nul}/firmware"]:
        assert coap.get(path).code == Code.UNAUTHORIZED, path
    for path in [f"/api/v1/{nul}/telemetry", f"/api/v1/{nul}/attributes"]:
        assert coap.post(path, b'{"a":1}').code == Code.UNAUTHORIZED, path
    assert coap.get(f"/api/v1/{nul}/attributes?sharedKeys=a").code == Code.UNAUTHORIZED
    message = aiocoap.Message(code=aiocoap.GET, uri=f"{coap.base}/api/v1/{nul}/attributes")
    message.opt.observe = 0
    assert coap.run(response_to(coap, message)).code == Code.UNAUTHORIZED
    attributes = f"/api/v1/{device.token}/attributes"
    for query in ["clientKeys=a%00b", "sharedKeys=fw_title,%00", "clientKeys=a&sharedKeys=b%00"]:
        assert coap.get(f"{attributes}?{query}").code == Code.BAD_REQUEST, query
    telemetry = f"/api/v1/{device.token}/telemetry"
    for body in [b'{"k":"a\\u0000b"}', b'{"a\\u0000":1}', b'{"k":"\\ud800"}']:
        assert coap.post(telemetry, body).code == Code.BAD_REQUEST, body
        assert coap.post(attributes, body).code == Code.BAD_REQUEST, body
    assert libcoap_get(coap_url(coap_server, device, "%00")).startswith(b"4.01")
    assert_quiet(coap_server)


def test_query_numbers_are_ascii_digits(
    coap_server: ServerProcess, coap: CoapClient, device: Provisioned
) -> None:
    path = f"/fw/{device.token}"
    refused = ["size=%C2%B2", "size=%D9%A3", "chunk=%C2%B2&size=10", "size=-1", "size=1_0"]
    refused += ["size=%2B10", "size=%2010", "size=0x10", "size=" + "9" * 200]
    for query in refused:
        answer = coap.get(f"{path}?{query}")
        assert answer.code == Code.BAD_REQUEST, (query, answer)
    past_the_end = coap.get(f"{path}?size=100&chunk={'9' * 200}")
    assert past_the_end.code == Code.CONTENT and past_the_end.payload == b""
    leading_zeros = coap.get(f"{path}?size=100&chunk={'0' * 200}1")
    assert leading_zeros.payload == DATA[100:200]
    # A Uri-Query value is at most 255 bytes (RFC 7252 §5.10): longer is a bad option; and the
    # server reads at most 4096 bytes of a datagram.
    for digits, expected in [(300, wire.BAD_OPTION), (5000, wire.REQUEST_ENTITY_TOO_LARGE)]:
        datagram = wire.request(path, [b"size=" + b"1" * digits], mid=digits)
        with RawEndpoint(coap_server.coap_port) as raw:
            reply = raw.exchange(datagram)
        assert reply is not None and reply.code == expected, (digits, reply)
    assert libcoap_get(coap_url(coap_server, device, "?chunk=%D9%A3")).startswith(b"4.00")
    assert_quiet(coap_server)


def libcoap_get(url: str) -> bytes:
    """What libcoap's client reports of a GET: its error answers go to stderr."""
    return subprocess.run(
        [libcoap_client(), "-m", "get", "-B", "5", url], capture_output=True, timeout=30, check=True
    ).stderr
