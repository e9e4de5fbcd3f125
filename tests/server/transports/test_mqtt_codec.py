"""The MQTT 3.1.1 / 5.0 codec: round trips, spec byte vectors, malformed input and fuzzing."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otaserver.transports.mqtt.codec import (
    Decoder,
    MalformedPacket,
    PacketTooLarge,
    ProtocolError,
    UnsupportedProtocolVersion,
    encode,
)
from otaserver.transports.mqtt.packets import (
    PACKET_TYPES,
    SERVER_ONLY,
    Auth,
    ConnAck,
    Connect,
    ConnectReturnCode,
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
    ReasonCode,
    SubAck,
    Subscribe,
    Subscription,
    UnsubAck,
    Unsubscribe,
    Will,
    valid_reason_codes,
)
from otaserver.transports.mqtt.properties import (
    MAX_VARINT,
    PROPERTY_SPECS,
    Properties,
    PropertyId,
    PropertyType,
    pack_utf8,
    pack_varint,
)

V3, V5 = ProtocolVersion.V311, ProtocolVersion.V5
T = PacketType
FAST = settings(max_examples=35, deadline=None)
MANY = settings(max_examples=120, deadline=None)
STREAMS = settings(max_examples=30, deadline=None)

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


# --- round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize(("version", "ptype"), CASES, ids=[f"{v.name}-{t.name}" for v, t in CASES])
@FAST
@given(data=st.data())
def test_every_packet_round_trips_whole_and_in_pieces(
    version: ProtocolVersion, ptype: PacketType, data: st.DataObject
) -> None:
    packet = data.draw(packets_of(ptype, version))
    wire = encode(packet, version)
    assert receiver(packet, version).feed(wire) == [packet]
    assert feed_pieces(receiver(packet, version), wire, data.draw(cuts_of(wire))) == [packet]


@pytest.mark.parametrize("version", [V3, V5])
@STREAMS
@given(data=st.data())
def test_client_stream_decodes_in_order(version: ProtocolVersion, data: st.DataObject) -> None:
    packets = [data.draw(connects(version)), *data.draw(stream_of(version, to_server=True))]
    wire = b"".join(encode(p, version) for p in packets)
    assert Decoder().feed(wire) == packets
    decoder = Decoder()
    assert feed_pieces(decoder, wire, data.draw(cuts_of(wire))) == packets
    assert decoder.version is version


@pytest.mark.parametrize("version", [V3, V5])
@STREAMS
@given(data=st.data())
def test_server_stream_decodes_in_order(version: ProtocolVersion, data: st.DataObject) -> None:
    packets = data.draw(stream_of(version, to_server=False))
    wire = b"".join(encode(p, version) for p in packets)
    decoder = Decoder(version=version, server_side=False)
    assert feed_pieces(decoder, wire, data.draw(cuts_of(wire))) == packets


def test_big_publish_fed_in_small_chunks() -> None:
    # A quadratic buffer would copy gigabytes here; a linear one just runs.
    packet = Publish("v1/devices/me/firmware", bytes(range(256)) * 32_768, 1, packet_id=7)
    wire = encode(packet, V5)
    decoder = Decoder(version=V5)
    chunk = 4096
    got = [p for i in range(0, len(wire), chunk) for p in decoder.feed(wire[i : i + chunk])]
    assert got == [packet]


# --- bytes written from the specs -------------------------------------------------------------

PAHO_CONNECT = b"\x10\x10\x00\x04MQTT\x04\x82\x00\x3c\x00\x01c\x00\x01u"  # 3.1.1, user "u"
AUTH_METHOD = Properties({PropertyId.AUTHENTICATION_METHOD: "abc"})
VECTORS: list[tuple[ProtocolVersion, bytes, Packet]] = [
    (V3, b"\xc0\x00", PingReq()),
    (V5, b"\xd0\x00", PingResp()),
    (V3, PAHO_CONNECT, Connect("c", V3, True, 60, "u")),
    (V5, b"\x10\x0d\x00\x04MQTT\x05\x02\x00\x00\x00\x00\x00", Connect("", V5, True, 0)),
    (V3, b"\x20\x02\x01\x00", ConnAck(True, 0)),
    (V5, b"\x20\x03\x00\x87\x00", ConnAck(False, ReasonCode.NOT_AUTHORIZED)),
    (V3, b"\x30\x05\x00\x01tab", Publish("t", b"ab")),
    (V3, b"\x30\x03\x00\x01t", Publish("t", b"")),
    (
        V5,
        b"\x3b\x0a\x00\x01t\x00\x01\x02\x01\x01hi",
        Publish("t", b"hi", 1, True, True, 1, Properties({PropertyId.PAYLOAD_FORMAT_INDICATOR: 1})),
    ),
    (V5, b"\x40\x02\x00\x01", PubAck(1)),
    (V5, b"\x40\x03\x00\x01\x10", PubAck(1, ReasonCode.NO_MATCHING_SUBSCRIBERS)),
    (V3, b"\x62\x02\x00\x07", PubRel(7)),
    (V3, b"\x82\x08\x00\x0a\x00\x03a/b\x01", Subscribe(10, (Subscription("a/b", 1),))),
    (
        V5,
        b"\x82\x07\x00\x0a\x00\x00\x01#\x2e",
        Subscribe(10, (Subscription("#", 2, True, True, 2),)),
    ),
    (V3, b"\x90\x04\x00\x01\x00\x80", SubAck(1, (0, 0x80))),
    (V3, b"\xa2\x05\x00\x02\x00\x01a", Unsubscribe(2, ("a",))),
    (V3, b"\xb0\x02\x00\x05", UnsubAck(5)),
    (V5, b"\xb0\x04\x00\x05\x00\x11", UnsubAck(5, (ReasonCode.NO_SUBSCRIPTION_EXISTED,))),
    (V3, b"\xe0\x00", Disconnect()),
    (V5, b"\xe0\x01\x04", Disconnect(ReasonCode.DISCONNECT_WITH_WILL_MESSAGE)),
    (V5, b"\xf0\x08\x18\x06\x15\x00\x03abc", Auth(ReasonCode.CONTINUE_AUTHENTICATION, AUTH_METHOD)),
]


@pytest.mark.parametrize(("version", "wire", "packet"), VECTORS)
def test_spec_vectors(version: ProtocolVersion, wire: bytes, packet: Packet) -> None:
    assert encode(packet, version) == wire
    assert receiver(packet, version).feed(wire) == [packet]


@pytest.mark.parametrize(
    ("wire", "packet"),
    [
        (b"\x20\x02\x00\x00", ConnAck(False, 0)),  # v5 CONNACK without property length
        (b"\x40\x04\x00\x01\x00\x00", PubAck(1)),  # the long form of the short PUBACK
        (b"\xe0\x02\x00\x00", Disconnect()),
        (b"\xf0\x00", Auth()),
    ],
)
def test_v5_long_and_short_forms_decode(wire: bytes, packet: Packet) -> None:
    assert Decoder(version=V5, server_side=False).feed(wire) == [packet]


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        (0, b"\x00"),
        (127, b"\x7f"),
        (128, b"\x80\x01"),
        (16_383, b"\xff\x7f"),
        (16_384, b"\x80\x80\x01"),
        (2_097_151, b"\xff\xff\x7f"),
        (2_097_152, b"\x80\x80\x80\x01"),
        (268_435_455, b"\xff\xff\xff\x7f"),
    ],
)
def test_remaining_length_encoding(value: int, wire: bytes) -> None:
    assert pack_varint(value) == wire
    if 3 <= value <= 20_000:  # a PUBLISH of that remaining length carries it and decodes
        packet = Publish("t", bytes(value - 3))
        assert encode(packet, V3)[1 : 1 + len(wire)] == wire
        assert Decoder(version=V3).feed(encode(packet, V3)) == [packet]


@pytest.mark.parametrize("version", [V3, V5])
def test_paho_client_bytes_decode(version: ProtocolVersion) -> None:
    mqtt = pytest.importorskip("paho.mqtt.client", reason="paho-mqtt is not installed")
    if not hasattr(mqtt, "CallbackAPIVersion"):
        pytest.skip("needs paho-mqtt 2")
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties as PahoProperties

    protocol = mqtt.MQTTv5 if version is V5 else mqtt.MQTTv311
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="c", protocol=protocol)
    client.username_pw_set("u", "p")
    publish_props = None
    if version is V5:
        publish_props = PahoProperties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        publish_props.UserProperty = ("k", "v")
    decoder, packets = Decoder(), list[Packet]()
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client.connect("127.0.0.1", listener.getsockname()[1], keepalive=60)
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(5)
            while not packets:
                packets += decoder.feed(conn.recv(4096))
            conn.sendall(encode(ConnAck(False, 0), version))
            client.loop(timeout=1.0)  # reads the CONNACK: paho holds back the rest until then
            client.publish("a/b", b"x", qos=1, properties=publish_props)
            client.subscribe("c/#", qos=2)
            client.disconnect()
            while len(packets) < 4:
                packets += decoder.feed(conn.recv(4096))
    assert client.socket() is None  # paho closed its end on DISCONNECT
    connect, publish, subscribe, disconnect = packets
    assert connect == Connect("c", version, True, 60, "u", b"p")
    expected_props = Properties(user_properties=[("k", "v")]) if version is V5 else Properties()
    assert isinstance(publish, Publish) and publish.packet_id is not None
    assert publish == Publish(
        "a/b", b"x", 1, packet_id=publish.packet_id, properties=expected_props
    )
    assert isinstance(subscribe, Subscribe)
    assert subscribe.subscriptions == (Subscription("c/#", 2),)
    assert disconnect == Disconnect()


# --- malformed input --------------------------------------------------------------------------


def frame(first: int, body: bytes) -> bytes:
    return bytes((first,)) + pack_varint(len(body)) + body


def connect(flags: int, tail: bytes = b"\x00\x01c", level: int = 4, name: str = "MQTT") -> bytes:
    return frame(0x10, pack_utf8(name) + bytes((level, flags)) + b"\x00\x3c" + tail)


MALFORMED: list[tuple[str, ProtocolVersion | None, bytes]] = [
    ("packet type 0", V3, b"\x00\x00"),
    ("PINGREQ flags", V3, b"\xc1\x00"),
    ("PUBREL flags 0", V3, b"\x60\x02\x00\x01"),
    ("SUBSCRIBE flags 0", V3, b"\x80\x06\x00\x01\x00\x01a\x00"),
    ("PUBLISH QoS 3", V3, b"\x36\x05\x00\x01t\x00\x01"),
    ("DUP on QoS 0", V3, b"\x38\x03\x00\x01t"),
    ("+ in topic name", V3, b"\x30\x05\x00\x03a/+"),
    ("# in topic name", V5, b"\x30\x04\x00\x01#\x00"),
    ("empty topic name", V3, b"\x30\x02\x00\x00"),
    ("empty topic name without alias", V5, b"\x30\x03\x00\x00\x00"),
    ("PUBACK packet id 0", V3, b"\x40\x02\x00\x00"),
    ("PUBLISH packet id 0", V3, b"\x32\x05\x00\x01t\x00\x00"),
    ("invalid UTF-8", V3, b"\x30\x04\x00\x02\xc3\x28"),
    ("U+0000", V3, b"\x30\x04\x00\x02a\x00"),
    ("UTF-16 surrogate", V3, b"\x30\x05\x00\x03\xed\xa0\x80"),
    ("five byte remaining length", V3, b"\x30\xff\xff\xff\xff\x01"),
    ("string past the end", V3, b"\x30\x03\x00\x05t"),
    ("CONNECT reserved flag", None, connect(0x03)),
    ("will QoS without will", None, connect(0x0A)),
    ("will retain without will", None, connect(0x22)),
    ("will QoS 3", None, connect(0x1E)),
    ("3.1.1 password without username", None, connect(0x42, b"\x00\x01c\x00\x01p")),
    ("will topic with wildcard", None, connect(0x06, b"\x00\x01c\x00\x01#\x00\x00")),
    ("protocol name", None, connect(0x02, name="MQTX")),
    ("CONNECT missing its client id", None, connect(0x02, b"")),
    ("SUBSCRIBE without subscriptions", V3, b"\x82\x02\x00\x01"),
    ("3.1.1 subscription option bits", V3, b"\x82\x06\x00\x01\x00\x01a\x04"),
    ("subscription QoS 3", V5, b"\x82\x07\x00\x01\x00\x00\x01a\x03"),
    ("retain handling 3", V5, b"\x82\x07\x00\x01\x00\x00\x01a\x30"),
    (
        "no local on a shared subscription",
        V5,
        frame(0x82, b"\x00\x01\x00" + pack_utf8("$share/g/t") + b"\x04"),
    ),
    ("empty topic filter", V3, b"\x82\x05\x00\x01\x00\x00\x00"),
    ("UNSUBSCRIBE without filters", V3, b"\xa2\x02\x00\x01"),
    ("trailing bytes", V3, b"\xc0\x01\x00"),
    ("3.1.1 PUBACK with a reason code", V3, b"\x40\x03\x00\x01\x00"),
    ("AUTH in 3.1.1", V3, b"\xf0\x00"),
    ("server receives CONNACK", V5, b"\x20\x03\x00\x00\x00"),
    ("server receives SUBACK", V3, b"\x90\x03\x00\x01\x00"),
    ("first packet not CONNECT", None, b"\xc0\x00"),
    ("second CONNECT", None, connect(0x02) * 2),
    ("CONNECT on a fixed-version stream", V5, b"\xc0\x00" + connect(0x02, level=5)),
    ("duplicate property", V5, b"\x30\x08\x00\x01t\x04\x01\x01\x01\x01"),
    ("property not allowed in packet", V5, b"\x40\x07\x00\x01\x00\x03\x23\x00\x01"),
    ("unknown property", V5, b"\x40\x06\x00\x01\x00\x02\x00\x00"),
    ("property past property length", V5, b"\x40\x08\x00\x01\x00\x01\x1f\x00\x01a"),
    ("invalid reason code", V5, b"\x40\x03\x00\x01\x05"),
    ("topic alias 0", V5, b"\x30\x06\x00\x00\x03\x23\x00\x00"),
    ("flag property 2", V5, b"\x30\x06\x00\x01t\x02\x01\x02"),
    ("subscription identifier from a client", V5, b"\x30\x06\x00\x01t\x02\x0b\x01"),
    ("two subscription identifiers", V5, frame(0x82, b"\x00\x01\x04\x0b\x01\x0b\x02\x00\x01a\x00")),
    ("CONNECT level differs from the stream's", V5, connect(0x02)),
    ("authentication data without method", None, connect(0x02, b"\x03\x16\x00\x00\x00\x01c", 5)),
]


@pytest.mark.parametrize(
    ("version", "wire"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED]
)
def test_malformed_packets_are_refused(version: ProtocolVersion | None, wire: bytes) -> None:
    decoder = Decoder(version=version)
    with pytest.raises(MalformedPacket):
        decoder.feed(wire)
    with pytest.raises(MalformedPacket, match="already failed"):
        decoder.feed(b"\xc0\x00")


@pytest.mark.parametrize(
    ("version", "wire"),
    [
        (V3, b"\x20\x02\x01\x05"),  # session present on a refused connection
        (V3, b"\x20\x02\x00\x06"),  # no 3.1.1 return code 6
        (V3, b"\xe0\x00"),  # 3.1.1 servers never send DISCONNECT
        (V3, b"\x90\x03\x00\x01\x03"),  # SUBACK return code 3
        (V5, b"\xb0\x03\x00\x01\x00"),  # v5 UNSUBACK without reason codes
        (V5, b"\xc0\x00"),  # a client's PINGREQ
    ],
)
def test_client_side_refuses(version: ProtocolVersion, wire: bytes) -> None:
    with pytest.raises(MalformedPacket):
        Decoder(version=version, server_side=False).feed(wire)


def test_password_without_username_is_fine_in_v5() -> None:
    [packet] = Decoder().feed(connect(0x42, b"\x00\x00\x01c\x00\x01p", level=5))
    assert packet == Connect("c", V5, True, 60, password=b"p")


@pytest.mark.parametrize(("level", "name"), [(3, "MQIsdp"), (6, "MQTT"), (0, "MQTT")])
def test_unsupported_protocol_level_says_which(level: int, name: str) -> None:
    decoder = Decoder()
    with pytest.raises(UnsupportedProtocolVersion) as caught:
        decoder.feed(connect(0x02, level=level, name=name))
    assert caught.value.level == level
    assert caught.value.reason_code == ReasonCode.UNSUPPORTED_PROTOCOL_VERSION
    assert decoder.version is None


def test_version_is_known_even_when_the_connect_is_malformed() -> None:
    decoder = Decoder()
    with pytest.raises(MalformedPacket) as caught:
        decoder.feed(connect(0x03, b"\x00\x00\x01c", level=5))
    assert decoder.version is V5
    assert caught.value.reason_code == ReasonCode.MALFORMED_PACKET


def test_error_reason_codes() -> None:
    with pytest.raises(ProtocolError) as caught:
        Decoder(version=V5).feed(b"\x40\x03\x00\x01\x05")
    assert caught.value.reason_code == ReasonCode.PROTOCOL_ERROR
    with pytest.raises(MalformedPacket) as bad_topic:
        Decoder(version=V5).feed(b"\x30\x04\x00\x01#\x00")
    assert bad_topic.value.reason_code == ReasonCode.TOPIC_NAME_INVALID


@pytest.mark.parametrize(
    ("version", "packet"),
    [
        (V3, Publish("t", b"", 0, packet_id=1)),
        (V3, Publish("t", b"", 1)),
        (V3, Publish("t", b"", 0, dup=True)),
        (V3, Publish("t", b"", 3, packet_id=1)),
        (V3, Publish("a/#", b"")),
        (V3, Publish("", b"")),
        (V3, PubAck(0)),
        (V3, PubAck(1, ReasonCode.QUOTA_EXCEEDED)),
        (V5, PubAck(1, ReasonCode.BANNED)),
        (V3, Auth()),
        (V3, Connect("c", V5, True, 0)),
        (V3, Connect("c", V3, True, 0, password=b"p")),
        (V3, Connect("c", V3, True, 0, will=Will("a/+", b""))),
        (V3, Connect("c\x00", V3, True, 0)),
        (V3, Subscribe(1, ())),
        (V3, Subscribe(1, (Subscription("a", 0, no_local=True),))),
        (V5, Subscribe(1, (Subscription("$share/g/a", 0, no_local=True),))),
        (V5, Subscribe(1, (Subscription("a", 0, retain_handling=3),))),
        (V3, SubAck(1, ())),
        (V3, SubAck(1, (0x87,))),
        (V5, UnsubAck(1, ())),
        (V3, Unsubscribe(1, ("",))),
        (V3, ConnAck(True, ConnectReturnCode.NOT_AUTHORIZED)),
        (V5, Publish("t", b"", properties=Properties({PropertyId.REASON_STRING: "no"}))),
        (V5, Disconnect(properties=Properties(subscription_identifiers=(1,)))),
    ],
)
def test_encode_refuses_what_the_wire_cannot_carry(
    version: ProtocolVersion, packet: Packet
) -> None:
    with pytest.raises(ValueError):
        encode(packet, version)


def test_encode_drops_what_3_1_1_has_no_place_for() -> None:
    props = Properties({PropertyId.REASON_STRING: "gone"})
    assert encode(PubAck(1, properties=props), V3) == b"\x40\x02\x00\x01"
    assert encode(UnsubAck(1, (0x11,)), V3) == b"\xb0\x02\x00\x01"


# --- properties -------------------------------------------------------------------------------


def test_properties_value_object() -> None:
    a = Properties({PropertyId.REASON_STRING: "x", 35: 1}, user_properties=[("k", "v")])  # type: ignore[dict-item]
    b = Properties(
        {PropertyId.TOPIC_ALIAS: 1, PropertyId.REASON_STRING: "x"}, user_properties=(("k", "v"),)
    )
    assert a == b and hash(a) == hash(b) and a != Properties({PropertyId.REASON_STRING: "x"})
    assert a.get(PropertyId.REASON_STRING) == "x" and a.get(PropertyId.CONTENT_TYPE) is None
    assert a.get_int(PropertyId.TOPIC_ALIAS) == 1 and a.get_str(PropertyId.TOPIC_ALIAS) is None
    assert len(a) == 2 and set(a) == {PropertyId.REASON_STRING, PropertyId.TOPIC_ALIAS}
    assert not Properties() and Properties(user_properties=[("a", "b")])
    assert Properties(subscription_identifiers=[3]).subscription_identifiers == (3,)
    assert "REASON_STRING" in repr(a)


@pytest.mark.parametrize(
    "make",
    [
        lambda: Properties({PropertyId.TOPIC_ALIAS: 0}),
        lambda: Properties({PropertyId.PAYLOAD_FORMAT_INDICATOR: 2}),
        lambda: Properties({PropertyId.MESSAGE_EXPIRY_INTERVAL: 2**32}),
        lambda: Properties({PropertyId.CONTENT_TYPE: b"bytes"}),
        lambda: Properties({PropertyId.CORRELATION_DATA: "text"}),
        lambda: Properties({PropertyId.USER_PROPERTY: "a"}),
        lambda: Properties({PropertyId.REASON_STRING: "nul\x00"}),
        lambda: Properties({99: 1}),  # type: ignore[dict-item]
        lambda: Properties(subscription_identifiers=[0]),
        lambda: Properties(user_properties=[("a", 1)]),  # type: ignore[list-item]
    ],
)
def test_invalid_properties_are_refused(make: Any) -> None:
    with pytest.raises(ValueError):
        make()


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
