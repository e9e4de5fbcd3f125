"""Sans-I/O MQTT 3.1.1 / 5.0 codec: `encode` one packet, `Decoder.feed` the bytes of a stream.

encode() raises ValueError for a packet it cannot put on the wire, so whatever it returns the
receiving side's Decoder accepts. What 3.1.1 has no place for but that changes no meaning
(properties, UNSUBACK reason codes) is dropped; anything else 3.1.1 cannot say is a ValueError.
Decoder raises MalformedPacket for any bytes that break the spec; the stream is dead after that.
"""

from __future__ import annotations

from typing import assert_never

from .packets import (
    CLIENT_ONLY,
    FIXED_FLAGS,
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
    ReasonCode,
    SubAck,
    Subscribe,
    Subscription,
    UnsubAck,
    Unsubscribe,
    Will,
    valid_reason_codes,
)
from .properties import (
    MAX_VARINT,
    Properties,
    PropertyId,
    Reader,
    decode_properties,
    encode_properties,
    pack_binary,
    pack_u16,
    pack_utf8,
    pack_varint,
)


class MalformedPacket(Exception):
    """The peer broke the protocol: close the connection (in v5 after DISCONNECT reason_code)."""

    def __init__(self, message: str, reason_code: int = ReasonCode.MALFORMED_PACKET) -> None:
        super().__init__(message)
        self.reason_code = reason_code


class ProtocolError(MalformedPacket):
    """Well-formed bytes that a spec rule forbids (the spec's "Protocol Error")."""

    def __init__(self, message: str) -> None:
        super().__init__(message, ReasonCode.PROTOCOL_ERROR)


class PacketTooLarge(MalformedPacket):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"remaining length {size} exceeds {limit}", ReasonCode.PACKET_TOO_LARGE)
        self.size, self.limit = size, limit


class UnsupportedProtocolVersion(MalformedPacket):
    """A CONNECT whose protocol level is neither 4 (3.1.1) nor 5; `level` is what it said."""

    def __init__(self, level: int) -> None:
        super().__init__(f"protocol level {level}", ReasonCode.UNSUPPORTED_PROTOCOL_VERSION)
        self.level = level


_T, _V5 = PacketType, ProtocolVersion.V5
_ACKS: dict[PacketType, type[PubAck | PubRec | PubRel | PubComp]] = {
    _T.PUBACK: PubAck,
    _T.PUBREC: PubRec,
    _T.PUBREL: PubRel,
    _T.PUBCOMP: PubComp,
}
_EMPTY = Properties()
_AUTHENTICATION = (PropertyId.AUTHENTICATION_METHOD, PropertyId.AUTHENTICATION_DATA)
_SHARED_PREFIX = "$share/"


def _valid_topic_name(topic: str, has_alias: bool) -> bool:
    # An empty topic name is only allowed in v5, when a Topic Alias stands for it.
    return (bool(topic) or has_alias) and "+" not in topic and "#" not in topic


# --- encoding ---------------------------------------------------------------------------------


def encode(packet: Packet, version: ProtocolVersion) -> bytes:
    """The wire bytes of `packet` on a connection of protocol `version`."""
    version = ProtocolVersion(version)
    match packet:
        case Connect():
            return _encode_connect(packet, version)
        case Publish():
            return _encode_publish(packet, version)
        case Subscribe():
            return _encode_subscribe(packet, version)
        case PingReq() | PingResp():
            return bytes((PACKET_TYPES[type(packet)] << 4, 0))
        case ConnAck():
            _check_code(packet.reason_code, _T.CONNACK, version)
            if packet.session_present and packet.reason_code:
                raise ValueError("session_present must be False when the connection is refused")
            head = bytes((packet.session_present, packet.reason_code))
            return _frame(_T.CONNACK, [head, *_props(packet.properties, "CONNACK", version)])
        case PubAck() | PubRec() | PubRel() | PubComp() | Disconnect() | Auth():
            return _encode_reason(packet, version)
        case SubAck() | UnsubAck():
            ptype = PACKET_TYPES[type(packet)]
            head = pack_u16(_packet_id(packet.packet_id))
            if ptype is _T.UNSUBACK and version is not _V5:
                return _frame(ptype, [head])
            if not packet.reason_codes:
                raise ValueError(f"{ptype.name} needs one reason code per topic filter")
            for code in packet.reason_codes:
                _check_code(code, ptype, version)
            props = _props(packet.properties, ptype.name, version)
            return _frame(ptype, [head, *props, bytes(packet.reason_codes)])
        case Unsubscribe():
            if not packet.topic_filters or not all(packet.topic_filters):
                raise ValueError("UNSUBSCRIBE needs at least one non-empty topic filter")
            parts = [pack_u16(_packet_id(packet.packet_id))]
            parts += _props(packet.properties, "UNSUBSCRIBE", version)
            return _frame(_T.UNSUBSCRIBE, parts + [pack_utf8(f) for f in packet.topic_filters])
        case _:
            assert_never(packet)


def _frame(ptype: PacketType, parts: list[bytes], flags: int | None = None) -> bytes:
    length = sum(len(part) for part in parts)
    if length > MAX_VARINT:
        raise ValueError(f"{ptype.name} of {length} bytes exceeds MQTT's maximum packet size")
    first = ptype << 4 | (FIXED_FLAGS.get(ptype, 0) if flags is None else flags)
    return b"".join([bytes((first,)), pack_varint(length), *parts])  # the one copy of a payload


def _props(props: Properties, packet: str, version: ProtocolVersion) -> list[bytes]:
    return [encode_properties(props, packet)] if version is _V5 else []


def _packet_id(packet_id: int | None) -> int:
    if packet_id is None or not 1 <= packet_id <= 0xFFFF:
        raise ValueError(f"packet identifier must be in 1..65535: {packet_id!r}")
    return packet_id


def _check_code(code: int, ptype: PacketType, version: ProtocolVersion) -> None:
    if code not in valid_reason_codes(ptype, version):
        raise ValueError(f"reason code {code!r} is not valid in a {version.name} {ptype.name}")


def _check_qos(qos: int) -> None:
    if qos not in (0, 1, 2):
        raise ValueError(f"QoS must be 0, 1 or 2: {qos!r}")


def _encode_reason(
    packet: PubAck | PubRec | PubRel | PubComp | Disconnect | Auth, version: ProtocolVersion
) -> bytes:
    """Packets that end in an optional reason code and properties: as short as the spec allows."""
    ptype = PACKET_TYPES[type(packet)]
    if ptype is _T.AUTH and version is not _V5:
        raise ValueError("AUTH does not exist in MQTT 3.1.1")
    _check_code(packet.reason_code, ptype, version)
    parts = (
        [] if isinstance(packet, Disconnect | Auth) else [pack_u16(_packet_id(packet.packet_id))]
    )
    if version is _V5 and (packet.reason_code or packet.properties):
        parts.append(bytes((packet.reason_code,)))
        if packet.properties:
            parts.append(encode_properties(packet.properties, ptype.name))
    return _frame(ptype, parts)


def _encode_connect(p: Connect, version: ProtocolVersion) -> bytes:
    if p.protocol_version != version:
        raise ValueError(f"a {p.protocol_version.name} CONNECT cannot be sent as {version.name}")
    flags = 0b10 if p.clean_start else 0
    if p.will is not None:
        _check_qos(p.will.qos)
        if not _valid_topic_name(p.will.topic, False):
            raise ValueError(f"invalid will topic {p.will.topic!r}")
        flags |= 0b100 | p.will.qos << 3 | p.will.retain << 5
    if p.password is not None:
        if p.username is None and version is not _V5:
            raise ValueError("MQTT 3.1.1 does not allow a password without a username")
        flags |= 0x40
    if p.username is not None:
        flags |= 0x80
    parts = [pack_utf8(p.protocol_name), bytes((version, flags)), pack_u16(p.keep_alive)]
    parts += [*_props(p.properties, "CONNECT", version), pack_utf8(p.client_id)]
    if p.will is not None:
        parts += _props(p.will.properties, "WILL", version)
        parts += (pack_utf8(p.will.topic), pack_binary(p.will.payload))
    if p.username is not None:
        parts.append(pack_utf8(p.username))
    if p.password is not None:
        parts.append(pack_binary(p.password))
    return _frame(_T.CONNECT, parts)


def _encode_publish(p: Publish, version: ProtocolVersion) -> bytes:
    _check_qos(p.qos)
    if not _valid_topic_name(p.topic, version is _V5 and PropertyId.TOPIC_ALIAS in p.properties):
        raise ValueError(f"invalid topic name {p.topic!r}")
    parts = [pack_utf8(p.topic)]
    if p.qos:
        parts.append(pack_u16(_packet_id(p.packet_id)))
    elif p.packet_id is not None or p.dup:
        raise ValueError("a QoS 0 PUBLISH has no packet identifier and no DUP flag")
    parts += [*_props(p.properties, "PUBLISH", version), p.payload]
    return _frame(_T.PUBLISH, parts, p.dup << 3 | p.qos << 1 | p.retain)


def _encode_subscribe(p: Subscribe, version: ProtocolVersion) -> bytes:
    if not p.subscriptions:
        raise ValueError("SUBSCRIBE needs at least one subscription")
    if len(p.properties.subscription_identifiers) > 1:
        raise ValueError("SUBSCRIBE carries at most one subscription identifier")
    parts = [pack_u16(_packet_id(p.packet_id)), *_props(p.properties, "SUBSCRIBE", version)]
    for sub in p.subscriptions:
        _check_qos(sub.qos)
        if sub.retain_handling not in (0, 1, 2):
            raise ValueError(f"retain_handling must be 0, 1 or 2: {sub.retain_handling!r}")
        if not sub.topic_filter:
            raise ValueError("empty topic filter")
        if sub.no_local and sub.topic_filter.startswith(_SHARED_PREFIX):
            raise ValueError("no_local is not allowed on a shared subscription")
        options = sub.qos | sub.no_local << 2 | sub.retain_as_published << 3
        options |= sub.retain_handling << 4
        if version is not _V5 and options > 2:
            raise ValueError("no_local, retain_as_published and retain_handling are MQTT 5 only")
        parts += (pack_utf8(sub.topic_filter), bytes((options,)))
    return _frame(_T.SUBSCRIBE, parts)


# --- decoding ---------------------------------------------------------------------------------


class Decoder:
    """Splits one direction of a connection's byte stream into packets.

    With version None the stream must start with CONNECT, whose protocol level then sets
    `version` as soon as it is read: even when the rest of that CONNECT is malformed, `version`
    tells which CONNACK to answer with. server_side=True decodes what clients send (and refuses
    CONNACK, SUBACK, UNSUBACK, PINGRESP); False decodes what servers send.
    """

    # One per connection, and a server holds thousands.
    __slots__ = ("_buffer", "_failed", "_started", "max_packet_size", "server_side", "version")

    def __init__(
        self,
        max_packet_size: int = MAX_VARINT,
        version: ProtocolVersion | None = None,
        server_side: bool = True,
    ) -> None:
        if version is None and not server_side:
            raise ValueError("a client-side Decoder needs the version its CONNECT asked for")
        self.max_packet_size = max_packet_size
        self.version = None if version is None else ProtocolVersion(version)
        self.server_side = server_side
        self._buffer = bytearray()
        self._started = False  # a packet was decoded, so a CONNECT is no longer allowed
        self._failed = False

    def feed(self, data: bytes) -> list[Packet]:
        """Every packet that `data` completes, in order; partial bytes wait for the next feed."""
        if self._failed:
            raise MalformedPacket("the stream already failed")
        buffer = self._buffer
        buffer += data
        packets: list[Packet] = []
        pos = 0
        try:
            with memoryview(buffer) as view:
                while (header := self._header(view, pos)) is not None:
                    first, start, end = header
                    if end > len(view):
                        break
                    packets.append(self._decode(first, Reader(view, start, end)))
                    pos = end
        except MalformedPacket:
            self._failed = True
            raise
        except ValueError as exc:  # from the wire readers, the properties or UTF-8 decoding
            self._failed = True
            raise MalformedPacket(str(exc)) from exc
        del buffer[:pos]  # once per feed, and cheap: bytearray drops a prefix without copying
        return packets

    def _header(self, view: memoryview, pos: int) -> tuple[int, int, int] | None:
        """(first byte, body start, body end) of the packet at pos; None until its header is in.

        The first byte and the length are checked as soon as they arrive, before any body.
        """
        if pos >= len(view):
            return None
        first = view[pos]
        self._check_first_byte(first)
        length = 0
        for i in range(1, 5):
            if pos + i >= len(view):
                return None
            byte = view[pos + i]
            length |= (byte & 0x7F) << (7 * (i - 1))
            if not byte & 0x80:
                if length > self.max_packet_size:
                    raise PacketTooLarge(length, self.max_packet_size)
                return first, pos + i + 1, pos + i + 1 + length
        raise MalformedPacket("remaining length longer than 4 bytes")

    def _check_first_byte(self, first: int) -> None:
        if first >> 4 == 0:
            raise MalformedPacket("reserved packet type 0")
        ptype, flags, v311 = _T(first >> 4), first & 0x0F, self.version is ProtocolVersion.V311
        if ptype is _T.CONNECT and self._started:
            raise ProtocolError("CONNECT after the first packet")
        if self.version is None and ptype is not _T.CONNECT:
            raise ProtocolError(f"the first packet must be CONNECT, not {ptype.name}")
        if ptype is _T.AUTH and v311:
            raise MalformedPacket("packet type 15 is reserved in MQTT 3.1.1")
        wrong_way = SERVER_ONLY if self.server_side else CLIENT_ONLY
        if ptype in wrong_way or (ptype is _T.DISCONNECT and v311 and not self.server_side):
            raise ProtocolError(f"{ptype.name} sent the wrong way")
        if ptype is _T.PUBLISH:
            if flags & 0b0110 == 0b0110:
                raise MalformedPacket("PUBLISH with QoS 3")
            if flags & 0b1000 and not flags & 0b0110:
                raise MalformedPacket("DUP set on a QoS 0 PUBLISH")
        elif flags != FIXED_FLAGS.get(ptype, 0):
            raise MalformedPacket(f"invalid fixed header flags {flags:#06b} for {ptype.name}")

    def _decode(self, first: int, r: Reader) -> Packet:
        ptype, flags, version = _T(first >> 4), first & 0x0F, self.version
        if version is None or ptype is _T.CONNECT:  # only a first CONNECT gets here
            packet: Packet = self._decode_connect(r)
        else:
            packet = _decode_body(ptype, flags, version, self.server_side, r)
        r.finish()
        self._started = True
        return packet

    def _decode_connect(self, r: Reader) -> Connect:
        name, level = r.utf8(), r.u8()
        if level not in (4, 5):
            raise UnsupportedProtocolVersion(level)
        if name != "MQTT":
            raise MalformedPacket(f"protocol name {name!r} with protocol level {level}")
        if self.version is not None and level != self.version:
            raise ProtocolError(f"CONNECT of level {level} on a {self.version.name} stream")
        self.version = version = ProtocolVersion(level)
        v5 = version is _V5
        flags = r.u8()
        will_flag, will_qos, will_retain = flags & 0x04, flags >> 3 & 0b11, bool(flags & 0x20)
        if flags & 0x01:
            raise MalformedPacket("CONNECT reserved flag is set")
        if will_qos == 3 or (not will_flag and (will_qos or will_retain)):
            raise MalformedPacket("CONNECT will QoS/retain flags are inconsistent")
        if flags & 0x40 and not flags & 0x80 and not v5:
            raise MalformedPacket("MQTT 3.1.1 CONNECT has a password without a username")
        keep_alive = r.u16()
        props = decode_properties(r, "CONNECT") if v5 else _EMPTY
        auth_method, auth_data = (pid in props for pid in _AUTHENTICATION)
        if auth_data and not auth_method:
            raise ProtocolError("authentication data without an authentication method")
        client_id, will = r.utf8(), None
        if will_flag:
            will_props = decode_properties(r, "WILL") if v5 else _EMPTY
            topic = r.utf8()
            if not _valid_topic_name(topic, False):
                raise MalformedPacket(f"will topic {topic!r}", ReasonCode.TOPIC_NAME_INVALID)
            will = Will(topic, r.binary(), will_qos, will_retain, will_props)
        username = r.utf8() if flags & 0x80 else None
        password = r.binary() if flags & 0x40 else None
        clean = bool(flags & 0x02)
        return Connect(client_id, version, clean, keep_alive, username, password, will, props)


def _decode_body(
    ptype: PacketType, flags: int, version: ProtocolVersion, server_side: bool, r: Reader
) -> Packet:
    """Any packet but CONNECT, from its variable header on."""
    v5 = version is _V5
    if ptype in (_T.PINGREQ, _T.PINGRESP):
        return PingReq() if ptype is _T.PINGREQ else PingResp()
    if ptype is _T.CONNACK:
        session_present, code = r.u8(), r.u8()
        if session_present & 0xFE:
            raise MalformedPacket("CONNACK reserved flags are set")
        # A v5 CONNACK always has properties, but accept the short form like the other acks.
        props = decode_properties(r, "CONNACK") if v5 and r.remaining else _EMPTY
        _check_received_code(code, ptype, version)
        if session_present and code:
            raise ProtocolError("CONNACK refuses the connection but says a session is present")
        return ConnAck(bool(session_present), code, props)
    if ptype in (_T.DISCONNECT, _T.AUTH):
        code, props = _read_reason(r, ptype, version)
        return Disconnect(code, props) if ptype is _T.DISCONNECT else Auth(code, props)
    if ptype is _T.PUBLISH:
        qos, topic = flags >> 1 & 0b11, r.utf8()
        packet_id = _read_packet_id(r) if qos else None
        props = decode_properties(r, "PUBLISH") if v5 else _EMPTY
        if not _valid_topic_name(topic, PropertyId.TOPIC_ALIAS in props):
            raise MalformedPacket(f"topic name {topic!r}", ReasonCode.TOPIC_NAME_INVALID)
        if server_side and props.subscription_identifiers:
            raise ProtocolError("a client's PUBLISH carries a subscription identifier")
        return Publish(topic, r.rest(), qos, bool(flags & 1), bool(flags & 8), packet_id, props)
    packet_id = _read_packet_id(r)  # every other packet starts with one
    if ptype in _ACKS:
        return _ACKS[ptype](packet_id, *_read_reason(r, ptype, version))
    if ptype is _T.UNSUBACK and not v5:
        return UnsubAck(packet_id)
    props = decode_properties(r, ptype.name) if v5 else _EMPTY
    if ptype is _T.SUBSCRIBE:
        return _decode_subscriptions(packet_id, props, v5, r)
    if ptype is _T.UNSUBSCRIBE:
        filters = []
        while r.remaining:
            filters.append(_read_filter(r))
        if not filters:
            raise ProtocolError("UNSUBSCRIBE without topic filters")
        return Unsubscribe(packet_id, tuple(filters), props)
    codes = tuple(r.rest())  # SUBACK or v5 UNSUBACK
    if not codes:
        raise ProtocolError(f"{ptype.name} without reason codes")
    for code in codes:
        _check_received_code(code, ptype, version)
    if ptype is _T.SUBACK:
        return SubAck(packet_id, codes, props)
    return UnsubAck(packet_id, codes, props)


def _decode_subscriptions(packet_id: int, props: Properties, v5: bool, r: Reader) -> Subscribe:
    if len(props.subscription_identifiers) > 1:
        raise ProtocolError("SUBSCRIBE with more than one subscription identifier")
    subscriptions = []
    while r.remaining:
        topic_filter, options = _read_filter(r), r.u8()
        if options & (0xC0 if v5 else 0xFC) or options & 0b11 == 3:
            raise MalformedPacket(f"invalid subscription options {options:#04x}")
        no_local, retain_handling = bool(options & 0b100), options >> 4 & 0b11
        if retain_handling == 3:
            raise ProtocolError("retain handling 3")
        if no_local and topic_filter.startswith(_SHARED_PREFIX):
            raise ProtocolError("no local on a shared subscription")
        rap = bool(options & 0b1000)
        subscriptions.append(
            Subscription(topic_filter, options & 0b11, no_local, rap, retain_handling)
        )
    if not subscriptions:
        raise ProtocolError("SUBSCRIBE without subscriptions")
    return Subscribe(packet_id, tuple(subscriptions), props)


def _check_received_code(code: int, ptype: PacketType, version: ProtocolVersion) -> None:
    if code not in valid_reason_codes(ptype, version):
        raise ProtocolError(f"reason code {code:#04x} is not valid in {ptype.name}")


def _read_packet_id(r: Reader) -> int:
    packet_id = r.u16()
    if packet_id == 0:
        raise MalformedPacket("packet identifier 0")
    return packet_id


def _read_filter(r: Reader) -> str:
    topic_filter = r.utf8()
    if not topic_filter:
        raise ProtocolError("empty topic filter")
    return topic_filter


def _read_reason(r: Reader, ptype: PacketType, version: ProtocolVersion) -> tuple[int, Properties]:
    """The optional reason code and properties that end many v5 packets (absent in 3.1.1)."""
    if version is not _V5:
        return 0, _EMPTY
    code = r.u8() if r.remaining else 0
    props = decode_properties(r, ptype.name) if r.remaining else _EMPTY
    _check_received_code(code, ptype, version)
    return code, props
