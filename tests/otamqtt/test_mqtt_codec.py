"""The MQTT 3.1.1 / 5.0 codec: round trips and byte vectors written from the specs."""

from __future__ import annotations

import socket

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otamqtt.codec import Decoder, encode
from otamqtt.packets import (
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
    Publish,
    PubRel,
    ReasonCode,
    SubAck,
    Subscribe,
    Subscription,
    UnsubAck,
    Unsubscribe,
)
from otamqtt.properties import Properties, PropertyId, pack_varint
from tests.support.mqtt_packets import (
    CASES,
    V3,
    V5,
    connects,
    cuts_of,
    feed_pieces,
    packets_of,
    receiver,
    stream_of,
)

FAST = settings(max_examples=35, deadline=None)
STREAMS = settings(max_examples=30, deadline=None)

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
