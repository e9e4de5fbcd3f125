"""Hypothesis strategies and helpers for valid MQTT packets, shared by the codec tests."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Any

from hypothesis import strategies as st

from otamqtt.codec import Decoder
from otamqtt.packets import (
    PACKET_TYPES,
    SERVER_ONLY,
    Auth,
    ConnAck,
    Connect,
    Disconnect,
    Packet,
    PacketType,
    PingReq,
    PingResp,
    ProtocolVersion,
    PubAck,
    PubComp,
    Publish,
    PubRec,
    PubRel,
    SubAck,
    Subscribe,
    Subscription,
    UnsubAck,
    Unsubscribe,
    Will,
    valid_reason_codes,
)
from otamqtt.properties import (
    MAX_VARINT,
    PROPERTY_SPECS,
    Properties,
    PropertyId,
    PropertyType,
)

V3, V5 = ProtocolVersion.V311, ProtocolVersion.V5
T = PacketType

# --- strategies: valid packets ----------------------------------------------------------------

CHARS = st.characters(codec="utf-8", exclude_characters="\x00")
texts = st.text(CHARS, max_size=10)
topic_names = st.text(
    st.characters(codec="utf-8", exclude_characters="\x00+#"), min_size=1, max_size=10
)
topic_filters = st.text(CHARS, min_size=1, max_size=10)
packet_ids = st.integers(1, 0xFFFF)
blobs = st.binary(max_size=24)
qoss = st.integers(0, 2)
NONZERO = {PropertyId.RECEIVE_MAXIMUM, PropertyId.MAXIMUM_PACKET_SIZE, PropertyId.TOPIC_ALIAS}
INT_MAX = {PropertyType.TWO_BYTE_INT: 0xFFFF, PropertyType.FOUR_BYTE_INT: 0xFFFF_FFFF}


def value_of(pid: PropertyId) -> st.SearchStrategy[int | str | bytes]:
    ptype = PROPERTY_SPECS[pid][0]
    if ptype is PropertyType.UTF8:
        return texts
    if ptype is PropertyType.BINARY:
        return blobs
    if ptype is PropertyType.BYTE:
        return st.integers(0, 1)  # every byte property is a flag
    return st.integers(1 if pid in NONZERO else 0, INT_MAX[ptype])


def properties(packet: str, version: ProtocolVersion, sids: int = 0) -> st.SearchStrategy[Any]:
    if version is V3:
        return st.just(Properties())
    single = {
        pid: value_of(pid)
        for pid, (ptype, where) in PROPERTY_SPECS.items()
        if packet in where and ptype not in (PropertyType.UTF8_PAIR, PropertyType.VARINT)
    }
    return st.builds(
        lambda values, user, ids: Properties(
            values, user_properties=user, subscription_identifiers=ids
        ),
        st.fixed_dictionaries({}, optional=single),
        st.lists(st.tuples(texts, texts), max_size=3),
        st.lists(st.integers(1, MAX_VARINT), max_size=sids),
    )


def codes(ptype: PacketType, version: ProtocolVersion) -> st.SearchStrategy[int]:
    return st.sampled_from(sorted(valid_reason_codes(ptype, version)))


@st.composite
def connects(draw: st.DrawFn, version: ProtocolVersion) -> Connect:
    username = draw(st.none() | texts)
    password = draw(st.none() | blobs) if username is not None or version is V5 else None
    props = draw(properties("CONNECT", version))
    if PropertyId.AUTHENTICATION_METHOD not in props:  # data needs a method
        props = Properties(
            {k: v for k, v in props.items() if k is not PropertyId.AUTHENTICATION_DATA},
            user_properties=props.user_properties,
        )
    wills = st.builds(Will, topic_names, blobs, qoss, st.booleans(), properties("WILL", version))
    will = draw(st.none() | wills)
    keep_alive = draw(st.integers(0, 0xFFFF))
    return Connect(
        draw(texts), version, draw(st.booleans()), keep_alive, username, password, will, props
    )


@st.composite
def publishes(draw: st.DrawFn, version: ProtocolVersion, sids: int = 3) -> Publish:
    qos, props = draw(qoss), draw(properties("PUBLISH", version, sids))
    alias = PropertyId.TOPIC_ALIAS in props
    topic = draw(st.just("") | topic_names) if alias else draw(topic_names)
    dup = qos > 0 and draw(st.booleans())
    packet_id = draw(packet_ids) if qos else None
    return Publish(topic, draw(blobs), qos, draw(st.booleans()), dup, packet_id, props)


@st.composite
def connacks(draw: st.DrawFn, version: ProtocolVersion) -> ConnAck:
    code = draw(codes(T.CONNACK, version))
    present = draw(st.booleans()) if code == 0 else False
    return ConnAck(present, code, draw(properties("CONNACK", version)))


def subscriptions(version: ProtocolVersion) -> st.SearchStrategy[Subscription]:
    if version is V3:
        return st.builds(Subscription, topic_filters, qoss)
    return st.builds(
        Subscription, topic_filters, qoss, st.booleans(), st.booleans(), st.integers(0, 2)
    ).filter(lambda s: not (s.no_local and s.topic_filter.startswith("$share/")))


def packets_of(ptype: PacketType, version: ProtocolVersion, sids: int = 3) -> Any:
    """Valid packets of one type; sids=0 keeps PUBLISH fit for a server to receive."""
    props = properties(ptype.name, version)
    acks = {T.PUBACK: PubAck, T.PUBREC: PubRec, T.PUBREL: PubRel, T.PUBCOMP: PubComp}
    if ptype in acks:
        return st.builds(acks[ptype], packet_ids, codes(ptype, version), props)
    code_lists = st.lists(codes(ptype, version), min_size=1, max_size=4).map(tuple)
    if ptype is T.UNSUBACK:
        if version is V3:
            return st.builds(UnsubAck, packet_ids)
        return st.builds(UnsubAck, packet_ids, code_lists, props)
    strategies = {
        T.CONNECT: connects(version),
        T.CONNACK: connacks(version),
        T.PUBLISH: publishes(version, sids),
        T.SUBSCRIBE: st.builds(
            Subscribe,
            packet_ids,
            st.lists(subscriptions(version), min_size=1, max_size=4).map(tuple),
            properties("SUBSCRIBE", version, sids=1),
        ),
        T.SUBACK: st.builds(SubAck, packet_ids, code_lists, props),
        T.UNSUBSCRIBE: st.builds(
            Unsubscribe, packet_ids, st.lists(topic_filters, min_size=1).map(tuple), props
        ),
        T.PINGREQ: st.just(PingReq()),
        T.PINGRESP: st.just(PingResp()),
        T.DISCONNECT: st.builds(Disconnect, codes(ptype, version), props),
        T.AUTH: st.builds(Auth, codes(ptype, version), props),
    }
    return strategies[ptype]


def receiver(packet: Packet, version: ProtocolVersion) -> Decoder:
    if isinstance(packet, Connect):
        return Decoder()  # detects the version from the CONNECT
    to_client = PACKET_TYPES[type(packet)] in SERVER_ONLY or (
        isinstance(packet, Publish) and bool(packet.properties.subscription_identifiers)
    )
    return Decoder(version=version, server_side=not to_client)


def feed_pieces(decoder: Decoder, data: bytes, cuts: Sequence[int]) -> list[Packet]:
    bounds = [0, *sorted(cuts), len(data)]
    return [packet for a, b in pairwise(bounds) for packet in decoder.feed(data[a:b])]


def cuts_of(data: bytes) -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(0, len(data)), max_size=8)


CASES = [(v, t) for v in (V3, V5) for t in PacketType if (v, t) != (V3, T.AUTH)]
FROM_CLIENT = [T.PUBLISH, T.PUBACK, T.PUBREC, T.PUBREL, T.PUBCOMP, T.SUBSCRIBE, T.UNSUBSCRIBE]
FROM_CLIENT += [T.PINGREQ, T.DISCONNECT, T.AUTH]
FROM_SERVER = [T.CONNACK, T.PUBLISH, T.PUBACK, T.PUBREC, T.PUBREL, T.PUBCOMP, T.SUBACK]
FROM_SERVER += [T.UNSUBACK, T.PINGRESP, T.DISCONNECT, T.AUTH]


def stream_of(version: ProtocolVersion, to_server: bool) -> Any:
    """What one side sends after CONNECT (3.1.1 has no AUTH, and no DISCONNECT from servers)."""
    types = FROM_CLIENT if to_server else FROM_SERVER
    absent = {T.AUTH} if to_server else {T.AUTH, T.DISCONNECT}
    usable = [t for t in types if version is V5 or t not in absent]
    sids = 0 if to_server else 3  # a server refuses subscription identifiers in PUBLISH
    return st.lists(st.one_of([packets_of(t, version, sids) for t in usable]), max_size=5)
