"""Spec §6.2 to §6.4: chunk size and index, empty past the end, the whole file, all transports."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otaconformance.devices import CoapDevice, HttpDevice, MqttDevice
from otaconformance.target import Target, rule

IMAGE = bytes((i * 7 + 1) % 256 for i in range(5000))
PROPERTIES = settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def provisioned(target: Target) -> tuple[dict[str, object], str]:
    profile = target.profile()
    package = target.package(profile, IMAGE)
    _, token = target.device(profile, firmwareId=package["id"])
    return package, token


def sizes() -> st.SearchStrategy[int]:
    """Sizes around the file's, and any that cuts it into at most 20 chunks."""
    return st.sampled_from([999, 1000, 1001, 4999, 5000, 5001]) | st.integers(250, 6000)


@PROPERTIES
@given(chunk=sizes())
def test_http_chunks(target: Target, provisioned: tuple[dict, str], chunk: int) -> None:
    package, token = provisioned
    http = HttpDevice(target.url, token)
    try:
        pieces = [
            http.chunk(package["title"], package["version"], chunk, i).content
            for i in range(-(-len(IMAGE) // chunk) + 1)
        ]
    finally:
        http.close()
    assert pieces[-1] == b"", rule("§6.3", "past the end: 200 with an empty body")
    assert b"".join(pieces) == IMAGE, rule("§6.3", "chunk n is bytes [size*n, size*(n+1))")


@PROPERTIES
@given(chunk=sizes())
def test_mqtt_chunks(target: Target, provisioned: tuple[dict, str], chunk: int) -> None:
    _, token = provisioned
    mqtt = MqttDevice(target.mqtt_host, target.mqtt_port, token)
    try:
        pieces = [mqtt.chunk(1, i, chunk) for i in range(-(-len(IMAGE) // chunk) + 1)]
        whole = mqtt.chunk(2, 0, None)
    finally:
        mqtt.close()
    assert b"".join(p or b"" for p in pieces) == IMAGE, rule(
        "§6.2", "chunk index counts chunks of the requested size, not bytes"
    )
    assert pieces[-1] == b"", rule("§6.2", "past the end: a zero-length payload")
    assert whole == IMAGE, rule("§6.2", "an empty payload asks for the whole file")


@PROPERTIES
@given(chunk=st.integers(64, 1024))
def test_coap_chunks(target: Target, provisioned: tuple[dict, str], chunk: int) -> None:
    _, token = provisioned
    coap = CoapDevice(target.coap_host, target.coap_port, token)
    try:
        pieces = [
            coap.get(f"/fw/{token}?size={chunk}&chunk={i}").payload
            for i in range(-(-len(IMAGE) // chunk))
        ]
        whole = coap.get(f"/fw/{token}").payload
    finally:
        coap.close()
    assert b"".join(pieces) == IMAGE, rule("§6.4", "CoAP size/chunk slices the file")
    assert whole == IMAGE, rule("§6.4", "without size, the whole file (blockwise)")
