"""The MQTT codec on malformed input and packets it must refuse, and the Properties value."""

from __future__ import annotations

from typing import Any

import pytest

from otamqtt.codec import (
    Decoder,
    MalformedPacket,
    ProtocolError,
    UnsupportedProtocolVersion,
    encode,
)
from otamqtt.packets import (
    Auth,
    ConnAck,
    Connect,
    ConnectReturnCode,
    Disconnect,
    Packet,
    ProtocolVersion,
    PubAck,
    Publish,
    ReasonCode,
    SubAck,
    Subscribe,
    Subscription,
    UnsubAck,
    Unsubscribe,
    Will,
)
from otamqtt.properties import Properties, PropertyId, pack_utf8, pack_varint
from tests.support.mqtt_packets import V3, V5

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
