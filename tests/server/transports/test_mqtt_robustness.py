"""Random, truncated and oversized byte streams never crash the MQTT server nor disturb others."""

from __future__ import annotations

import socket
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import TenantContext
from tests.support.devices import Provisioned, provision
from tests.support.mqtt import MqttDevice
from tests.support.process import ServerProcess

DATA = bytes(range(256)) * 20
_devices: dict[str, Provisioned] = {}


def shared_device(tenant: TenantContext) -> Provisioned:
    """One device per tenant for all the examples of a property test."""
    if tenant.tenant_id not in _devices:
        _devices[tenant.tenant_id] = provision(tenant, DATA)
    return _devices[tenant.tenant_id]


def connect_packet(token: str, level: int = 4) -> bytes:
    """A CONNECT with `token` as user name, clean session, keep-alive 60 s."""
    head = b"\x00\x04MQTT" + bytes([level, 0x82]) + b"\x00\x3c"
    properties = b"\x00" if level == 5 else b""
    body = head + properties + b"\x00\x04fuzz" + len(token).to_bytes(2, "big") + token.encode()
    return b"\x10" + bytes([len(body)]) + body


def closed_by_server(port: int, data: bytes, wait: float = 5.0) -> bool:
    """Sends `data`, then tells whether the server closed the connection (not us)."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            return True
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                if not sock.recv(65536):
                    return True
            except ConnectionResetError:
                return True
            except TimeoutError:
                return False
    return False


SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SETTINGS
@given(garbage=st.binary(min_size=1, max_size=300))
def test_a_stream_that_does_not_start_with_connect_is_closed(
    server: ServerProcess, garbage: bytes
) -> None:
    if garbage[0] >> 4 == 1:
        garbage = b"\xe0" + garbage  # a DISCONNECT first: still not a CONNECT
    assert closed_by_server(server.mqtt_port, garbage, wait=3.0)


@SETTINGS
@given(garbage=st.binary(min_size=1, max_size=300), level=st.sampled_from([4, 5]))
def test_garbage_after_connect_never_disturbs_another_device(
    server: ServerProcess, tenant: TenantContext, garbage: bytes, level: int
) -> None:
    p = shared_device(tenant)
    with socket.create_connection(("127.0.0.1", server.mqtt_port), timeout=5) as sock:
        sock.sendall(connect_packet(p.token, level) + garbage)
        with MqttDevice(server.mqtt_port, p.token, client_id="") as good:
            assert good.chunk(1, 1, 100) == DATA[100:200]


def test_malformed_packets_after_connect_close_the_connection(
    server: ServerProcess, tenant: TenantContext
) -> None:
    p = shared_device(tenant)
    for level, bad in [
        (4, b"\xf0\x00"),  # AUTH does not exist in 3.1.1
        (4, b"\x82\x02\x00\x01"),  # SUBSCRIBE without a subscription
        (5, b"\x30\x04\x00\x01+\x00"),  # PUBLISH to a wildcard topic
        (5, b"\x62\x02\x00\x00"),  # PUBREL with packet id 0
    ]:
        assert closed_by_server(server.mqtt_port, connect_packet(p.token, level) + bad), bad


def test_truncated_packets_time_out(server: ServerProcess) -> None:
    # Half a CONNECT and then silence: closed after the connect timeout, not kept forever.
    started = time.monotonic()
    assert closed_by_server(server.mqtt_port, connect_packet("x")[:7], wait=15.0)
    assert time.monotonic() - started < 15


def test_oversized_packet_is_refused_from_its_header(server: ServerProcess) -> None:
    # A PUBLISH announcing 200 MiB: refused from the fixed header, nothing is buffered.
    assert closed_by_server(server.mqtt_port, b"\x30\xff\xff\xff\x63")


def test_unsupported_protocol_level_gets_its_connack(server: ServerProcess) -> None:
    mqisdp = b"\x10\x12\x00\x06MQIsdp\x03\x02\x00\x3c\x00\x04fuzz"
    with socket.create_connection(("127.0.0.1", server.mqtt_port), timeout=5) as sock:
        sock.sendall(mqisdp)
        assert sock.recv(4) == b"\x20\x02\x00\x01"


def test_a_device_keeps_working_through_a_flood_of_bad_connections(
    server: ServerProcess, tenant: TenantContext
) -> None:
    p = shared_device(tenant)
    with MqttDevice(server.mqtt_port, p.token) as good:
        for index in range(40):
            junk = bytes((index * 37 + k) % 256 for k in range(64 + index))
            closed_by_server(server.mqtt_port, b"\x10" + junk, wait=2.0)
            if index % 10 == 0:
                assert good.chunk(index, 0, 256) == bytes(range(256))
        assert good.download(99, 1000, len(DATA)) == DATA
        assert not good.disconnected
