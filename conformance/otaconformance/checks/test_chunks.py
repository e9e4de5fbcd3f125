"""Spec §6.2 to §6.4: chunk size and index, empty past the end, the whole file, all transports.

Hypothesis draws the file's size and the chunk size together, so that files that end exactly on
a chunk boundary, one byte past it, one byte short of it, and files smaller than one chunk all
come up.
"""

from __future__ import annotations

import random
from typing import NamedTuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otaconformance.devices import CoapDevice, HttpDevice, MqttDevice, code_text
from otaconformance.target import FIRMWARE, KINDS, SOFTWARE, Entity, Kind, Target, rule

PROPERTIES = settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@st.composite
def layouts(draw: st.DrawFn, largest_chunk: int = 4096) -> tuple[int, int]:
    """(file size, chunk size): some whole chunks and a remainder, at most 12 chunks and a bit."""
    chunk = draw(st.integers(1, largest_chunk))
    whole = draw(st.integers(0, 12))
    rest = draw(st.sampled_from([0, 1, chunk - 1]) | st.integers(0, chunk - 1))
    return max(1, chunk * whole + rest), chunk


def image_of(size: int) -> bytes:
    return random.Random(size).randbytes(size)


class Provisioned(NamedTuple):
    image: bytes
    package: Entity
    device: Entity
    token: str


def provision(target: Target, profile: str, kind: Kind, size: int) -> Provisioned:
    """A package of `size` bytes, assigned to a new device."""
    image = image_of(size)
    package = target.package(profile, image, kind=kind)
    device, token = target.device(profile, **{kind.field: package["id"]})
    return Provisioned(image, package, device, token)


def chunk_count(size: int, chunk: int) -> int:
    return -(-size // chunk)


@PROPERTIES
@given(layout=layouts())
@pytest.mark.parametrize("kind", KINDS, ids=str)
def test_http_chunks(target: Target, profile: str, kind: Kind, layout: tuple[int, int]) -> None:
    size, chunk = layout
    image, package, _, token = provision(target, profile, kind, size)
    with HttpDevice(target.url, token) as http:
        responses = [
            http.get(
                kind.path, title=package["title"], version=package["version"], size=chunk, chunk=i
            )
            for i in range(chunk_count(size, chunk) + 1)
        ]
    assert all(r.status_code == 200 for r in responses), rule("§6.3", "chunks answer 200")
    pieces = [r.content for r in responses]
    assert b"".join(pieces[:-1]) == image, rule(
        "§6.3", f"chunk n is bytes [size*n, size*(n+1)) of a {size}-byte file in {chunk}s"
    )
    assert pieces[-1] == b"", rule("§6.3", "past the end: 200 with an empty body")


@PROPERTIES
@given(layout=layouts())
@pytest.mark.parametrize(
    ("kind", "version"), [(FIRMWARE, 5), (FIRMWARE, 3), (SOFTWARE, 5)], ids=["fw5", "fw3", "sw5"]
)
def test_mqtt_chunks(
    target: Target, profile: str, kind: Kind, version: int, layout: tuple[int, int]
) -> None:
    size, chunk = layout
    image, _, _, token = provision(target, profile, kind, size)
    with MqttDevice(target.mqtt_host, target.mqtt_port, token, version) as mqtt:
        pieces = [mqtt.chunk(1, i, chunk, kind.prefix) for i in range(chunk_count(size, chunk) + 1)]
    assert None not in pieces, rule("§6.2", "every chunk request gets a reply")
    assert b"".join(p or b"" for p in pieces[:-1]) == image, rule(
        "§6.2", f"chunk index counts chunks of the requested size, not bytes ({size} in {chunk}s)"
    )
    assert pieces[-1] == b"", rule("§6.2", "past the end: a zero-length payload")


@PROPERTIES
@given(layout=layouts(largest_chunk=1024))
@pytest.mark.parametrize("kind", KINDS, ids=str)
def test_coap_chunks(target: Target, profile: str, kind: Kind, layout: tuple[int, int]) -> None:
    size, chunk = layout
    image, package, _, token = provision(target, profile, kind, size)
    path = f"/{kind.prefix}/{token}"
    with CoapDevice(target.coap_host, target.coap_port, token) as coap:
        pieces = [
            coap.get(f"{path}?size={chunk}&chunk={i}").payload
            for i in range(chunk_count(size, chunk))
        ]
        checked = coap.get(f"{path}?title={package['title']}&version={package['version']}")
    assert b"".join(pieces) == image, rule("§6.4", f"size/chunk slices a {size}-byte file")
    assert code_text(checked) == "2.05" and checked.payload == image, rule(
        "§6.4", "without size, the whole file (blockwise), title and version checked if given"
    )


@pytest.mark.parametrize("subscribed", [True, False], ids=["subscribed", "unsubscribed"])
def test_mqtt_whole_file(target: Target, profile: str, subscribed: bool) -> None:
    image, _, _, token = provision(target, profile, FIRMWARE, 70_000)
    with MqttDevice(target.mqtt_host, target.mqtt_port, token) as mqtt:
        if subscribed:
            mqtt.subscribe("v2/fw/response/+/chunk/+")
        empty, zero = mqtt.chunk(1, 0, None), mqtt.chunk(2, 0, 0)
    assert empty == image, rule("§6.2", "an empty payload asks for the whole file")
    assert zero == image, rule("§6.2", "a chunk size of 0 asks for the whole file")


def test_mqtt_size_is_reused(target: Target, profile: str) -> None:
    image, _, _, token = provision(target, profile, FIRMWARE, 1000)
    with MqttDevice(target.mqtt_host, target.mqtt_port, token) as mqtt:
        first, second = mqtt.chunk(1, 0, 100), mqtt.chunk(1, 1, None)
    assert first == image[:100]
    assert second == image[100:200], rule(
        "§6.2", "an empty payload reuses the size this request id sent before"
    )


def test_mqtt_request_id_is_pinned_to_its_package(target: Target, profile: str) -> None:
    old_image, _, device, token = provision(target, profile, FIRMWARE, 1000)
    new_image = image_of(1001)
    new = target.package(profile, new_image)
    with MqttDevice(target.mqtt_host, target.mqtt_port, token) as mqtt:
        assert mqtt.chunk(1, 0, 100) == old_image[:100]
        target.assign(device, new)
        pinned, fresh = mqtt.chunk(1, 1, 100), mqtt.chunk(2, 0, 100)
    assert pinned == old_image[100:200], rule(
        "§6.2", "a request id stays bound to the package of its first request"
    )
    assert fresh == new_image[:100], rule("§6.2", "a new request id gets the new package")


def test_mqtt_largest_chunk(target: Target, profile: str) -> None:
    largest = target.mqtt_max_chunk
    image, _, _, token = provision(target, profile, FIRMWARE, largest + 10)
    with MqttDevice(target.mqtt_host, target.mqtt_port, token) as mqtt:
        first, rest = mqtt.chunk(1, 0, largest), mqtt.chunk(1, 1, largest)
    assert (first, rest) == (image[:largest], image[largest:]), rule(
        "§6.2", f"chunks of the largest size the target serves ({largest}) come whole"
    )


def test_http_whole_file_and_headers(target: Target, profile: str) -> None:
    image, package, _, token = provision(target, profile, FIRMWARE, 3000)
    with HttpDevice(target.url, token) as http:
        bare = http.get("firmware", title=package["title"], version=package["version"])
        zero = http.get(
            "firmware", title=package["title"], version=package["version"], size=0, chunk=0
        )
    assert bare.content == image and zero.content == image, rule(
        "§6.3", "without size, or with size=0, the whole file"
    )
    assert bare.headers.get("content-length") == str(len(image)), rule(
        "§6.3", "a download has its Content-Length"
    )
    assert "image.bin" in bare.headers.get("content-disposition", ""), rule(
        "§6.3", "Content-Disposition names the package's file"
    )
    assert bare.headers.get("x-filename") == "image.bin", rule("§6.3", "x-filename names it too")


@pytest.mark.otakit_extension
def test_coap_past_the_end_and_the_api_path(target: Target, profile: str) -> None:
    image, package, _, token = provision(target, profile, FIRMWARE, 1000)
    with CoapDevice(target.coap_host, target.coap_port, token) as coap:
        past = coap.get(f"/fw/{token}?size=500&chunk=2")
        documented = coap.get(
            f"/api/v1/{token}/firmware?title={package['title']}&version={package['version']}"
        )
    assert code_text(past) == "2.05" and past.payload == b"", rule(
        "§6.4", "otakit answers a chunk past the end with an empty 2.05 (ThingsBoard: silence)"
    )
    assert documented.payload == image, rule("§6.4", "the documented /api/v1/{token}/firmware")
