"""Spec §6.2 to §6.4: chunk size and index, empty past the end, the whole file; on every
transport, for firmware and software.

Hypothesis draws the file's size and the chunk size together, so that files that end exactly on
a chunk boundary, one byte past it, one byte short of it, and files smaller than one chunk all
come up.
"""

from __future__ import annotations

import random
from typing import NamedTuple

import aiocoap
import pytest
from aiocoap.optiontypes import BlockOption
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from otaclient import protocol as wire

from otaconformance.devices import (
    MQTT_REPLY,
    CoapDevice,
    HttpDevice,
    MqttFacade,
    code_text,
    open_device,
)
from otaconformance.rules import MQTT, TRANSPORTS, Transport
from otaconformance.target import KINDS, Entity, Kind, Target, rule

PROPERTIES = settings(
    max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
LARGEST_COAP_CHUNK = 1024  # what the examples use: a chunk fits one CoAP message
kinds = pytest.mark.parametrize("kind", KINDS, ids=str)
transports = pytest.mark.parametrize("transport", TRANSPORTS, ids=str)
mqtt_transports = pytest.mark.parametrize("transport", MQTT, ids=str)


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


@pytest.mark.rules(
    "chunk.slice",
    "chunk.past-end-empty",
    "naming.mqtt-chunk-topics",
    "naming.http-download-path",
    "naming.coap-download-path",
)
@PROPERTIES
@given(data=st.data())
@kinds
@transports
def test_chunk_slices(
    target: Target, profile: str, transport: Transport, kind: Kind, data: st.DataObject
) -> None:
    largest = LARGEST_COAP_CHUNK if transport is Transport.COAP else 4096
    size, chunk = data.draw(layouts(largest), label="(file size, chunk size)")
    image, package, _, token = provision(target, profile, kind, size)
    count = chunk_count(size, chunk)
    with open_device(target, transport, token) as device:
        answers = [device.fetch(kind, package, chunk, i) for i in range(count)]
        # ThingsBoard does not answer a CoAP chunk past the end at all (otakit: an empty 2.05,
        # test_coap_past_the_end_and_the_api_path).
        past = None if transport is Transport.COAP else device.fetch(kind, package, chunk, count)
    statuses = {answer.status for answer in answers}
    assert statuses <= {"200", "2.05", MQTT_REPLY}, rule(
        "chunk.slice", f"every chunk request gets its chunk ({transport.value}): {statuses}"
    )
    assert b"".join(answer.body for answer in answers) == image, rule(
        "chunk.slice", f"{transport.value}, {kind}: a {size}-byte file in chunks of {chunk}"
    )
    if past is not None:
        assert past.status in ("200", MQTT_REPLY) and past.body == b"", rule(
            "chunk.past-end-empty",
            f"{transport.value}, {kind}: chunk {count} of {size} bytes in {chunk}s gave "
            f"{past.status} with {len(past.body)} bytes",
        )


@pytest.mark.rules("chunk.whole-file", "chunk.coap-query-optional", "chunk.mqtt-unsubscribed-reply")
@kinds
@transports
def test_whole_file(target: Target, profile: str, transport: Transport, kind: Kind) -> None:
    image, package, _, token = provision(target, profile, kind, 70_000)
    with open_device(target, transport, token) as device:
        if isinstance(device, MqttFacade):
            device.raw.subscribe(f"v2/{kind.prefix}/response/+/chunk/+")
        # MQTT: None is an empty payload; CoAP and HTTP: no size parameter.
        bare, zero = device.chunk(kind, 0, None, package), device.chunk(kind, 0, 0, package, 2)
        plain = device.chunk(kind, 0, None) if transport is Transport.COAP else image
    assert bare == image, rule(
        "chunk.whole-file", f"{transport.value}, {kind}: no size (an empty payload on MQTT)"
    )
    assert zero == image, rule("chunk.whole-file", f"{transport.value}, {kind}: size 0")
    assert plain == image, rule(
        "chunk.coap-query-optional", f"{kind}: with no query at all, the whole file"
    )
    if transport in MQTT:
        with open_device(target, transport, token) as device:
            unsubscribed = device.chunk(kind, 0, None), device.chunk(kind, 0, 0, request_id=2)
        assert unsubscribed == (image, image), rule(
            "chunk.mqtt-unsubscribed-reply", f"{transport.value}, {kind}: no whole-file reply"
        )


@pytest.mark.rules("chunk.mqtt-size-reused")
@kinds
@mqtt_transports
def test_mqtt_size_is_reused(
    target: Target, profile: str, transport: Transport, kind: Kind
) -> None:
    image, _, _, token = provision(target, profile, kind, 1000)
    with open_device(target, transport, token) as mqtt:
        first, second = mqtt.chunk(kind, 0, 100), mqtt.chunk(kind, 1, None)
    assert first == image[:100]
    assert second == image[100:200], rule(
        "chunk.mqtt-size-reused",
        f"{transport.value}, {kind}: chunk 1 with an empty payload after a size of 100 gave "
        f"{None if second is None else len(second)} bytes",
    )


@pytest.mark.rules("chunk.mqtt-request-pinned")
@kinds
@mqtt_transports
def test_mqtt_request_id_is_pinned_to_its_package(
    target: Target, profile: str, transport: Transport, kind: Kind
) -> None:
    old_image, _, device, token = provision(target, profile, kind, 1000)
    new_image = image_of(1001)
    new = target.package(profile, new_image, kind=kind)
    with open_device(target, transport, token) as mqtt:
        assert mqtt.chunk(kind, 0, 100) == old_image[:100]
        target.assign(device, new)
        pinned, fresh = mqtt.chunk(kind, 1, 100), mqtt.chunk(kind, 0, 100, request_id=2)
    assert pinned == old_image[100:200], rule(
        "chunk.mqtt-request-pinned", f"{transport.value}, {kind}: request id 1 moved on"
    )
    assert fresh == new_image[:100], rule(
        "chunk.mqtt-request-pinned", f"{transport.value}, {kind}: a new request id, old package"
    )


@pytest.mark.rules("chunk.mqtt-largest")
@kinds
@mqtt_transports
def test_mqtt_largest_chunk(target: Target, profile: str, transport: Transport, kind: Kind) -> None:
    largest = target.mqtt_max_chunk
    image, _, _, token = provision(target, profile, kind, largest + 10)
    with open_device(target, transport, token) as mqtt:
        first, rest = mqtt.chunk(kind, 0, largest), mqtt.chunk(kind, 1, largest)
    assert (first, rest) == (image[:largest], image[largest:]), rule(
        "chunk.mqtt-largest", f"{transport.value}, {kind}: chunks of {largest}"
    )


@pytest.mark.rules("chunk.mqtt-subscription-filters", "chunk.mqtt-reply-qos")
@kinds
@mqtt_transports
def test_mqtt_subscriptions_and_reply_qos(
    target: Target, profile: str, transport: Transport, kind: Kind
) -> None:
    image, _, _, token = provision(target, profile, kind, 1000)
    chunks, errors = f"v2/{kind.prefix}/response/+/chunk/+", f"v2/{kind.prefix}/error"
    with open_device(target, transport, token) as device:
        assert isinstance(device, MqttFacade)
        granted = {
            (chunks, 0): device.raw.subscribe(chunks, 0),
            (errors, 1): device.raw.subscribe(errors, 1),
        }
        at_qos0 = device.fetch(kind, None, 100, 0)
        granted[(chunks, 2)] = device.raw.subscribe(chunks, 2)
        at_qos1 = device.fetch(kind, None, 100, 1)
    values = {asked: [code.value for code in codes] for asked, codes in granted.items()}
    assert values == {(chunks, 0): [0], (errors, 1): [1], (chunks, 2): [1]}, rule(
        "chunk.mqtt-subscription-filters",
        f"{transport.value}: granted QoS per (filter, asked QoS): {values}",
    )
    assert (at_qos0.body, at_qos0.qos) == (image[:100], 0), rule(
        "chunk.mqtt-reply-qos", f"{transport.value}: at QoS 0 granted, reply at {at_qos0.qos}"
    )
    assert (at_qos1.body, at_qos1.qos) == (image[100:200], 1), rule(
        "chunk.mqtt-reply-qos", f"{transport.value}: at QoS 1 granted, reply at {at_qos1.qos}"
    )
    with open_device(target, transport, token) as device:
        assert isinstance(device, MqttFacade)
        refused = device.raw.subscribe(f"v2/{kind.prefix}/response/+", 1)
        anyway = device.fetch(kind, None, 100, 0)
    assert all(code.is_failure for code in refused), rule(
        "chunk.mqtt-subscription-filters",
        f"{transport.value}: v2/{kind.prefix}/response/+ was granted: {refused}",
    )
    assert (anyway.body, anyway.qos) == (image[:100], 1), rule(
        "chunk.mqtt-reply-qos",
        f"{transport.value}: with no matching subscription, the reply at QoS 1, got "
        f"{anyway.status} at {anyway.qos}",
    )


@pytest.mark.rules("chunk.http-headers", transports=[Transport.HTTP])
@kinds
def test_http_download_headers(target: Target, profile: str, kind: Kind) -> None:
    image, package, _, token = provision(target, profile, kind, 3000)
    with open_device(target, Transport.HTTP, token) as http:
        whole = http.fetch(kind, package)
        chunk = http.fetch(kind, package, 1000, 2)
    assert whole.body == image and chunk.body == image[2000:], rule(
        "chunk.http-headers", f"{kind}: the download itself"
    )
    headers = {name.lower(): value for name, value in whole.headers.items()}
    assert headers.get("content-type", "").startswith("application/octet-stream"), rule(
        "chunk.http-headers",
        f"{kind}: the package's Content-Type, got {headers.get('content-type')}",
    )
    assert headers.get("content-length") == str(len(image)), rule(
        "chunk.http-headers", f"{kind}: a download has its Content-Length"
    )
    assert chunk.headers.get("content-length") == "1000", rule(
        "chunk.http-headers", f"{kind}: a chunk's Content-Length is the chunk's"
    )
    disposition = headers.get("content-disposition", "")
    assert disposition.startswith("attachment") and "image.bin" in disposition, rule(
        "chunk.http-headers", f"{kind}: Content-Disposition names the file: {disposition!r}"
    )
    assert headers.get("x-filename") == "image.bin", rule(
        "chunk.http-headers", f"{kind}: x-filename names it too"
    )


BLOCK_FILE = 2500  # three blocks of 1024 (SZX 6), the last of 452 bytes; ten of 256 (SZX 4)


def blocks(
    target: Target, profile: str, kind: Kind
) -> tuple[bytes, list[tuple[int, int, aiocoap.Message]]]:
    """The file, and (NUM, SZX, response) for the first and the last block of each SZX asked."""
    image, _, _, token = provision(target, profile, kind, BLOCK_FILE)
    answers = []
    with CoapDevice(target.coap_host, target.coap_port, token) as coap:
        for szx in (4, 6):
            last = chunk_count(BLOCK_FILE, 2 ** (szx + 4)) - 1
            for num in (0, last):
                message = aiocoap.Message(
                    code=aiocoap.GET,
                    uri=f"{coap.base}/{kind.prefix}/{token}",
                    block2=BlockOption.BlockwiseTuple(num, False, szx),
                )
                answers.append((num, szx, coap.send(message, blockwise=False)))
    return image, answers


@pytest.mark.rules("chunk.coap-block2", transports=[Transport.COAP])
@kinds
def test_coap_block2(target: Target, profile: str, kind: Kind) -> None:
    image, answers = blocks(target, profile, kind)
    for num, szx, answer in answers:
        size = 2 ** (szx + 4)
        block = answer.opt.block2
        assert code_text(answer) == "2.05" and block is not None, rule(
            "chunk.coap-block2", f"{kind}: block {num} (SZX {szx}): {answer.code}, Block2 {block}"
        )
        assert (block.block_number, block.size_exponent) == (num, szx), rule(
            "chunk.coap-block2", f"{kind}: asked NUM {num} SZX {szx}, got {block}"
        )
        assert answer.payload == image[num * size : (num + 1) * size], rule(
            "chunk.coap-block2", f"{kind}: block {num} of {size}: {len(answer.payload)} bytes"
        )


@pytest.mark.otakit_extension
@pytest.mark.rules("chunk.coap-block2-more", transports=[Transport.COAP])
@kinds
def test_coap_block2_more_flag(target: Target, profile: str, kind: Kind) -> None:
    _, answers = blocks(target, profile, kind)
    for num, szx, answer in answers:
        block = answer.opt.block2
        more = (num + 1) * 2 ** (szx + 4) < BLOCK_FILE
        assert block is not None and block.more == more, rule(
            "chunk.coap-block2-more", f"{kind}: block {num} (SZX {szx}) of {BLOCK_FILE}: {block}"
        )


@pytest.mark.otakit_extension
@pytest.mark.rules("chunk.coap-past-end-empty", "chunk.coap-api-path", transports=[Transport.COAP])
@kinds
def test_coap_past_the_end_and_the_api_path(target: Target, profile: str, kind: Kind) -> None:
    image, package, _, token = provision(target, profile, kind, 1000)
    with CoapDevice(target.coap_host, target.coap_port, token) as coap:
        past = coap.get(f"/{kind.prefix}/{token}?size=500&chunk=2")
        documented = coap.get(
            f"/api/v1/{token}/{kind.path}?title={package['title']}&version={package['version']}"
        )
    assert code_text(past) == "2.05" and past.payload == b"", rule(
        "chunk.coap-past-end-empty", f"{kind}: got {past.code} with {len(past.payload)} bytes"
    )
    assert documented.payload == image, rule(
        "chunk.coap-api-path", f"{kind}: /api/v1/{{token}}/{kind.path} gave {documented.code}"
    )


@pytest.mark.rules("chunk.index-default", transports=[Transport.HTTP, Transport.COAP])
@kinds
@pytest.mark.parametrize("transport", [Transport.HTTP, Transport.COAP], ids=str)
def test_chunk_index_defaults_to_0(
    target: Target, profile: str, transport: Transport, kind: Kind
) -> None:
    image, package, _, token = provision(target, profile, kind, 1000)
    if transport is Transport.HTTP:
        with HttpDevice(target.url, token) as http:
            asked = {"title": package["title"], "version": package["version"], "size": 100}
            got = http.get(kind.path, **asked).content
    else:
        with CoapDevice(target.coap_host, target.coap_port, token) as coap:
            got = coap.get(f"/{kind.prefix}/{token}?size=100").payload
    assert got == image[:100], rule(
        "chunk.index-default", f"{transport.value}, {kind}: size=100 alone gave {len(got)} bytes"
    )


@pytest.mark.rules("chunk.http-query-decoding", transports=[Transport.HTTP])
@kinds
def test_http_query_is_form_decoded(target: Target, profile: str, kind: Kind) -> None:
    n = random.randrange(10**9)
    image = image_of(300)
    # (the package's title, the title as the query spells it, whether that is the package's)
    asked = [
        (f"q {n}", f"q+{n}", True),  # a + is a space
        (f"q {n}", f"q%20{n}", True),
        (f"q+{n}", f"q%2B{n}", True),
        (f"q+{n}", f"q+{n}", False),  # "q {n}": not this package
    ]
    wrong = {}
    for title in {title for title, _, _ in asked}:
        package = target.package(profile, image, kind=kind, title=title)
        _, token = target.device(profile, **{kind.field: package["id"]})
        with HttpDevice(target.url, token) as http:
            path = wire.http_path(token, kind.path)
            for named, spelled, same in asked:
                if named != title:
                    continue
                # The whole file, and a chunk.
                for tail, body in (("", image), ("&size=100&chunk=0", image[:100])):
                    response = http.http.get(f"{path}?title={spelled}&version=1.0{tail}")
                    got = response.status_code, (response.content if response.is_success else None)
                    if got != ((200, body) if same else (400, None)):
                        wrong[f"title={spelled}{tail}"] = (title, response.status_code)
    assert not wrong, rule("chunk.http-query-decoding", f"{kind}, (package, status): {wrong}")


@pytest.mark.otakit_extension
@pytest.mark.rules("chunk.http-range", transports=[Transport.HTTP])
@kinds
def test_http_whole_file_honours_range(target: Target, profile: str, kind: Kind) -> None:
    image, package, _, token = provision(target, profile, kind, 3000)
    right = {"title": package["title"], "version": package["version"]}
    got = {}
    with HttpDevice(target.url, token) as http:
        path = wire.http_path(token, kind.path)
        for what, params in {"no size": right, "size=0": {**right, "size": 0}}.items():
            response = http.http.get(path, params=params, headers={"Range": "bytes=1000-1999"})
            got[what] = (
                response.status_code,
                response.content == image[1000:2000],
                response.headers.get("content-range"),
            )
    want = (206, True, "bytes 1000-1999/3000")
    assert got == dict.fromkeys(got, want), rule("chunk.http-range", f"{kind}: {got}")


@pytest.mark.otakit_extension
@pytest.mark.rules("chunk.mqtt-huge-index")
@kinds
@mqtt_transports
def test_mqtt_huge_chunk_index(
    target: Target, profile: str, transport: Transport, kind: Kind
) -> None:
    _, package, _, token = provision(target, profile, kind, 200)  # 200 chunks of 1 byte
    with open_device(target, transport, token) as device:
        past = device.fetch(kind, package, 1, 10**19)
    assert (past.status, past.body) == (MQTT_REPLY, b""), rule(
        "chunk.mqtt-huge-index", f"{transport.value}, {kind}: {past.status}, {past.body[:20]!r}"
    )
