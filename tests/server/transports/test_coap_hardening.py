"""Malformed and odd CoAP input (issue 10, finding 8), through real sockets and real clients.

No datagram writes a traceback or more than one warning line per kind (the server here throttles
each kind to one line for the whole run), and every datagram gets the answer RFC 7252 gives it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from tests.support import coap_datagrams as wire
from tests.support.coap import CoapClient
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
