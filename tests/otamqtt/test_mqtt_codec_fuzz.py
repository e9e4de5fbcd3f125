"""Fuzzing the MQTT codec: garbage, mutated and truncated input, and packet size limits."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otamqtt.codec import Decoder, MalformedPacket, PacketTooLarge, encode
from otamqtt.packets import PacketType, ProtocolVersion, Publish, ReasonCode
from otamqtt.properties import MAX_VARINT, pack_varint
from tests.support.mqtt_packets import (
    CASES,
    V3,
    V5,
    connects,
    cuts_of,
    feed_pieces,
    packets_of,
    receiver,
)

MANY = settings(max_examples=120, deadline=None)

# --- fuzzing ----------------------------------------------------------------------------------

DECODERS: list[dict[str, Any]] = [
    {},
    {"version": V3},
    {"version": V5},
    {"version": V3, "server_side": False},
    {"version": V5, "server_side": False},
    {"version": V5, "max_packet_size": 16},
]


def feed_expecting_only_malformed(decoder: Decoder, data: bytes, cuts: list[int]) -> None:
    with contextlib.suppress(MalformedPacket):
        feed_pieces(decoder, data, cuts)


@MANY
@given(st.sampled_from(DECODERS), st.binary(max_size=300), st.lists(st.integers(0, 300)))
def test_garbage_raises_nothing_but_malformed(
    config: dict[str, Any], data: bytes, cuts: list[int]
) -> None:
    feed_expecting_only_malformed(Decoder(**config), data, [c for c in cuts if c <= len(data)])


@MANY
@given(st.sampled_from([V3, V5]), st.data())
def test_garbage_after_a_connect_raises_nothing_but_malformed(
    version: ProtocolVersion, data: st.DataObject
) -> None:
    wire = encode(data.draw(connects(version)), version) + data.draw(st.binary(max_size=200))
    feed_expecting_only_malformed(Decoder(), wire, data.draw(cuts_of(wire)))


@MANY
@given(st.sampled_from(CASES), st.data())
def test_mutated_packets_raise_nothing_but_malformed(
    case: tuple[ProtocolVersion, PacketType], data: st.DataObject
) -> None:
    version, ptype = case
    packet = data.draw(packets_of(ptype, version))
    mutable = bytearray(encode(packet, version))
    for _ in range(data.draw(st.integers(1, 4))):
        mutable[data.draw(st.integers(0, len(mutable) - 1))] = data.draw(st.integers(0, 255))
    wire = bytes(mutable) + data.draw(st.binary(max_size=8))
    feed_expecting_only_malformed(receiver(packet, version), wire, data.draw(cuts_of(wire)))


@MANY
@given(st.sampled_from(CASES), st.data())
def test_truncated_packets_wait_without_error(
    case: tuple[ProtocolVersion, PacketType], data: st.DataObject
) -> None:
    version, ptype = case
    packet = data.draw(packets_of(ptype, version))
    wire = encode(packet, version)
    cut = data.draw(st.integers(0, len(wire) - 1))
    decoder = receiver(packet, version)
    assert feed_pieces(decoder, wire[:cut], data.draw(cuts_of(wire[:cut]))) == []
    assert decoder.feed(wire[cut:]) == [packet]


@MANY
@given(
    st.sampled_from([({}, 0x10), ({"version": V3}, 0x30), ({"version": V5}, 0x82)]),
    st.integers(0, 100_000).flatmap(
        lambda n: st.tuples(st.just(n), st.integers(n + 1, MAX_VARINT))
    ),
)
def test_too_large_is_refused_from_the_header_alone(
    start: tuple[dict[str, Any], int], sizes: tuple[int, int]
) -> None:
    (config, first), (limit, size) = start, sizes
    header = bytes((first,)) + pack_varint(size)
    assert len(header) <= 5
    decoder = Decoder(max_packet_size=limit, **config)
    for i in range(len(header) - 1):
        assert decoder.feed(header[i : i + 1]) == []
    with pytest.raises(PacketTooLarge) as caught:
        decoder.feed(header[-1:])
    assert caught.value.reason_code == ReasonCode.PACKET_TOO_LARGE


def test_packet_at_the_limit_is_accepted() -> None:
    packet = Publish("t", b"xy")  # remaining length 5
    assert Decoder(max_packet_size=5, version=V3).feed(encode(packet, V3)) == [packet]
    with pytest.raises(PacketTooLarge):
        Decoder(max_packet_size=4, version=V3).feed(encode(packet, V3))


def test_client_side_decoder_needs_a_version() -> None:
    with pytest.raises(ValueError):
        Decoder(server_side=False)
