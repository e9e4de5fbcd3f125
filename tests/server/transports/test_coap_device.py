"""The CoAP device API (spec §6.4) with aiocoap's client."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from aiocoap.numbers.codes import Code
from hypothesis import HealthCheck, given, settings

from tests.conftest import TenantContext
from tests.support.coap import CoapClient
from tests.support.devices import Provisioned, provision, shared_attributes
from tests.support.process import ServerProcess
from tests.support.strategies import file_and_chunk

DATA = bytes((i * 17 + 5) % 256 for i in range(12_345))


@pytest.fixture
def coap(server: ServerProcess) -> Iterator[CoapClient]:
    with CoapClient(server.coap_port) as client:
        yield client


def test_telemetry_and_attributes(coap: CoapClient, tenant: TenantContext) -> None:
    p = provision(tenant, DATA)
    created = coap.post(f"/api/v1/{p.token}/telemetry", b'{"fw_state":"DOWNLOADED"}')
    assert created.code == Code.CREATED
    assert coap.post(f"/api/v1/{p.token}/attributes", b'{"model":"C1"}').code == Code.CREATED
    tenant.api.post(f"/api/plugins/telemetry/DEVICE/{p.device_id}/SHARED_SCOPE", {"fw_title": "t"})
    values = tenant.api.get(
        f"/api/plugins/telemetry/DEVICE/{p.device_id}/values/timeseries",
        params={"keys": "fw_state"},
    )
    assert values["fw_state"][0]["value"] == "DOWNLOADED"
    answer = coap.get(f"/api/v1/{p.token}/attributes?clientKeys=model&sharedKeys=fw_title")
    assert answer.code == Code.CONTENT
    assert json.loads(answer.payload) == {"client": {"model": "C1"}, "shared": {"fw_title": "t"}}
    assert coap.post(f"/api/v1/{p.token}/telemetry", b"{bad").code == Code.BAD_REQUEST
    assert coap.post("/api/v1/wrong/telemetry", b"{}").code == Code.UNAUTHORIZED


def test_observe_attributes(coap: CoapClient, tenant: TenantContext) -> None:
    p = provision(tenant, DATA)
    path = f"/api/plugins/telemetry/DEVICE/{p.device_id}/SHARED_SCOPE"
    tenant.api.post(path, {"fw_title": "old"})
    first, notifications, request = coap.observe(f"/api/v1/{p.token}/attributes")
    assert first.code == Code.CONTENT
    assert json.loads(first.payload) == {"shared": shared_attributes(tenant, p.device_id)}
    assert json.loads(first.payload)["shared"]["fw_title"] == "old"
    time.sleep(0.2)
    tenant.api.post(path, {"fw_title": "new", "fw_version": "2"})
    update = notifications.get(timeout=10)
    assert json.loads(update.payload) == {"fw_title": "new", "fw_version": "2"}
    tenant.api.delete(f"{path}?keys=fw_version")
    assert json.loads(notifications.get(timeout=10).payload) == {"deleted": ["fw_version"]}
    coap.cancel(request)


@pytest.mark.parametrize("resource", ["/fw/{token}", "/api/v1/{token}/firmware"])
def test_whole_file_blockwise(coap: CoapClient, tenant: TenantContext, resource: str) -> None:
    p = provision(tenant, DATA)
    response = coap.get(resource.format(token=p.token) + f"?title={p.title}&version={p.version}")
    assert response.code == Code.CONTENT
    assert response.payload == DATA


def test_any_block_may_come_first(coap: CoapClient, tenant: TenantContext) -> None:
    p = provision(tenant, DATA)
    response = coap.get(f"/fw/{p.token}", block2=(5, 4), blockwise=False)  # 256-byte blocks
    assert response.payload == DATA[5 * 256 : 6 * 256]
    assert response.opt.block2.block_number == 5 and response.opt.block2.more
    assert response.opt.size2 == len(DATA)
    last = coap.get(f"/fw/{p.token}", block2=(len(DATA) // 1024, 6), blockwise=False)
    assert last.payload == DATA[(len(DATA) // 1024) * 1024 :] and not last.opt.block2.more


def resume(coap: CoapClient, p: Provisioned, first_block: int) -> bytes:
    """A download that starts at block `first_block`, as after a reboot."""
    received, number = b"", first_block
    while True:
        response = coap.get(f"/fw/{p.token}", block2=(number, 6), blockwise=False)
        received += response.payload
        if not response.opt.block2.more:
            return received
        number += 1


def test_a_download_resumes_from_any_block(coap: CoapClient, tenant: TenantContext) -> None:
    p = provision(tenant, DATA)
    assert resume(coap, p, 7) == DATA[7 * 1024 :]


@pytest.mark.parametrize("size", [1, 1023, 1024, 1025, 40_000])
def test_chunks_concatenate_to_the_package(
    coap: CoapClient, tenant: TenantContext, size: int
) -> None:
    data = bytes((i * 11) % 253 for i in range(size))
    p = provision(tenant, data)
    chunk, received, index = 1000, b"", 0
    while len(received) < size:
        response = coap.get(f"/fw/{p.token}?size={chunk}&chunk={index}")
        assert response.code == Code.CONTENT
        received += response.payload
        index += 1
    assert received == data
    past = coap.get(f"/fw/{p.token}?size={chunk}&chunk={index}")
    assert past.code == Code.CONTENT and past.payload == b""


def test_download_errors(coap: CoapClient, tenant: TenantContext) -> None:
    p = provision(tenant, DATA)
    assert coap.get("/fw/no-such-token").code == Code.UNAUTHORIZED
    assert coap.get(f"/fw/{p.token}?title=other").code == Code.BAD_REQUEST
    assert coap.get(f"/sw/{p.token}").code == Code.NOT_FOUND
    assert coap.post(f"/fw/{p.token}", b"").code == Code.METHOD_NOT_ALLOWED
    assert coap.get(f"/fw/{p.token}/extra").code == Code.NOT_FOUND
    assert coap.get(f"/fw/{p.token}?size=ten").code == Code.BAD_REQUEST


def test_a_device_sees_only_its_own(coap: CoapClient, tenant: TenantContext) -> None:
    mine, theirs = provision(tenant, b"mine" * 10), provision(tenant, b"theirs" * 10)
    tenant.api.post(f"/api/plugins/telemetry/DEVICE/{theirs.device_id}/SHARED_SCOPE", {"secret": 1})
    assert coap.get(f"/fw/{mine.token}").payload == b"mine" * 10
    assert json.loads(coap.get(f"/api/v1/{mine.token}/attributes?sharedKeys=secret").payload) == {}
    assert coap.get(f"/fw/{mine.token}?title={theirs.title}").code == Code.BAD_REQUEST


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sizes=file_and_chunk(4000, 1024, 30))
def test_any_file_and_chunk_size(
    coap: CoapClient, tenant: TenantContext, sizes: tuple[int, int]
) -> None:
    size, chunk = sizes
    data = (bytes(range(256)) * (size // 256 + 1))[:size]
    p = provision(tenant, data)
    pieces = [
        coap.get(f"/fw/{p.token}?size={chunk}&chunk={i}").payload
        for i in range(-(-size // chunk) + 1)
    ]
    assert b"".join(pieces) == data and pieces[-1] == b""
