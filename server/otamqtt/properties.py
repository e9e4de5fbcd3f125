"""MQTT 5 properties (spec 2.2.2) and the wire data types they are made of (spec 1.5).

The data types live here because a property is exactly one of them; the codec reuses the same
readers and writers for the rest of each packet. Malformed wire data raises ValueError (a
UnicodeDecodeError is one too); the codec turns it into MalformedPacket.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator, Mapping
from enum import Enum, IntEnum

MAX_VARINT = 268_435_455  # four 7-bit groups
_U16 = struct.Struct(">H")


class PropertyId(IntEnum):
    PAYLOAD_FORMAT_INDICATOR = 1
    MESSAGE_EXPIRY_INTERVAL = 2
    CONTENT_TYPE = 3
    RESPONSE_TOPIC = 8
    CORRELATION_DATA = 9
    SUBSCRIPTION_IDENTIFIER = 11
    SESSION_EXPIRY_INTERVAL = 17
    ASSIGNED_CLIENT_IDENTIFIER = 18
    SERVER_KEEP_ALIVE = 19
    AUTHENTICATION_METHOD = 21
    AUTHENTICATION_DATA = 22
    REQUEST_PROBLEM_INFORMATION = 23
    WILL_DELAY_INTERVAL = 24
    REQUEST_RESPONSE_INFORMATION = 25
    RESPONSE_INFORMATION = 26
    SERVER_REFERENCE = 28
    REASON_STRING = 31
    RECEIVE_MAXIMUM = 33
    TOPIC_ALIAS_MAXIMUM = 34
    TOPIC_ALIAS = 35
    MAXIMUM_QOS = 36
    RETAIN_AVAILABLE = 37
    USER_PROPERTY = 38
    MAXIMUM_PACKET_SIZE = 39
    WILDCARD_SUBSCRIPTION_AVAILABLE = 40
    SUBSCRIPTION_IDENTIFIER_AVAILABLE = 41
    SHARED_SUBSCRIPTION_AVAILABLE = 42


class PropertyType(Enum):
    BYTE = 1
    TWO_BYTE_INT = 2
    FOUR_BYTE_INT = 4
    VARINT = 5
    UTF8 = 6
    BINARY = 7
    UTF8_PAIR = 8


_P, _T = PropertyId, PropertyType
_ALL = (
    "CONNECT CONNACK PUBLISH WILL PUBACK PUBREC PUBREL PUBCOMP SUBSCRIBE SUBACK UNSUBSCRIBE "
    "UNSUBACK DISCONNECT AUTH"
)
# Spec table 2-4: each property's type and the packets (by PacketType name, or WILL for the will
# properties of CONNECT) that may carry it. Keyed by name so this module needs no packets import.
PROPERTY_SPECS: dict[PropertyId, tuple[PropertyType, frozenset[str]]] = {
    pid: (ptype, frozenset((_ALL if where == "*" else where).split()))
    for pid, ptype, where in [
        (_P.PAYLOAD_FORMAT_INDICATOR, _T.BYTE, "PUBLISH WILL"),
        (_P.MESSAGE_EXPIRY_INTERVAL, _T.FOUR_BYTE_INT, "PUBLISH WILL"),
        (_P.CONTENT_TYPE, _T.UTF8, "PUBLISH WILL"),
        (_P.RESPONSE_TOPIC, _T.UTF8, "PUBLISH WILL"),
        (_P.CORRELATION_DATA, _T.BINARY, "PUBLISH WILL"),
        (_P.SUBSCRIPTION_IDENTIFIER, _T.VARINT, "PUBLISH SUBSCRIBE"),
        (_P.SESSION_EXPIRY_INTERVAL, _T.FOUR_BYTE_INT, "CONNECT CONNACK DISCONNECT"),
        (_P.ASSIGNED_CLIENT_IDENTIFIER, _T.UTF8, "CONNACK"),
        (_P.SERVER_KEEP_ALIVE, _T.TWO_BYTE_INT, "CONNACK"),
        (_P.AUTHENTICATION_METHOD, _T.UTF8, "CONNECT CONNACK AUTH"),
        (_P.AUTHENTICATION_DATA, _T.BINARY, "CONNECT CONNACK AUTH"),
        (_P.REQUEST_PROBLEM_INFORMATION, _T.BYTE, "CONNECT"),
        (_P.WILL_DELAY_INTERVAL, _T.FOUR_BYTE_INT, "WILL"),
        (_P.REQUEST_RESPONSE_INFORMATION, _T.BYTE, "CONNECT"),
        (_P.RESPONSE_INFORMATION, _T.UTF8, "CONNACK"),
        (_P.SERVER_REFERENCE, _T.UTF8, "CONNACK DISCONNECT"),
        (
            _P.REASON_STRING,
            _T.UTF8,
            "CONNACK PUBACK PUBREC PUBREL PUBCOMP SUBACK UNSUBACK DISCONNECT AUTH",
        ),
        (_P.RECEIVE_MAXIMUM, _T.TWO_BYTE_INT, "CONNECT CONNACK"),
        (_P.TOPIC_ALIAS_MAXIMUM, _T.TWO_BYTE_INT, "CONNECT CONNACK"),
        (_P.TOPIC_ALIAS, _T.TWO_BYTE_INT, "PUBLISH"),
        (_P.MAXIMUM_QOS, _T.BYTE, "CONNACK"),
        (_P.RETAIN_AVAILABLE, _T.BYTE, "CONNACK"),
        (_P.USER_PROPERTY, _T.UTF8_PAIR, "*"),
        (_P.MAXIMUM_PACKET_SIZE, _T.FOUR_BYTE_INT, "CONNECT CONNACK"),
        (_P.WILDCARD_SUBSCRIPTION_AVAILABLE, _T.BYTE, "CONNACK"),
        (_P.SUBSCRIPTION_IDENTIFIER_AVAILABLE, _T.BYTE, "CONNACK"),
        (_P.SHARED_SUBSCRIPTION_AVAILABLE, _T.BYTE, "CONNACK"),
    ]
}
# Every byte property is a flag (0 or 1); these four are a protocol error when 0.
_NONZERO = frozenset(
    {_P.RECEIVE_MAXIMUM, _P.MAXIMUM_PACKET_SIZE, _P.TOPIC_ALIAS, _P.SUBSCRIPTION_IDENTIFIER}
)
_INT_MAX = {_T.BYTE: 1, _T.TWO_BYTE_INT: 0xFFFF, _T.FOUR_BYTE_INT: 0xFFFF_FFFF}

PropertyValue = int | str | bytes


def pack_u16(value: int) -> bytes:
    if not 0 <= value <= 0xFFFF:
        raise ValueError(f"two byte integer out of range: {value}")
    return _U16.pack(value)


def pack_varint(value: int) -> bytes:
    if not 0 <= value <= MAX_VARINT:
        raise ValueError(f"variable byte integer out of range: {value}")
    out = bytearray()
    while True:
        value, digit = value >> 7, value & 0x7F
        out.append(digit | 0x80 if value else digit)
        if not value:
            return bytes(out)


def pack_binary(data: bytes) -> bytes:
    if len(data) > 0xFFFF:
        raise ValueError(f"binary data longer than 65535 bytes: {len(data)}")
    return _U16.pack(len(data)) + data


def pack_utf8(text: str) -> bytes:
    if "\x00" in text:
        raise ValueError("UTF-8 string contains U+0000")
    return pack_binary(text.encode("utf-8"))  # lone surrogates raise UnicodeEncodeError


class Reader:
    """A cursor over one packet's bytes in [pos, end); every read checks the bounds."""

    __slots__ = ("_view", "end", "pos")

    def __init__(self, view: memoryview, pos: int, end: int) -> None:
        self._view, self.pos, self.end = view, pos, end

    @property
    def remaining(self) -> int:
        return self.end - self.pos

    def _advance(self, n: int) -> int:
        start = self.pos
        if n > self.end - start:
            raise ValueError(f"{n} bytes needed but only {self.end - start} left in packet")
        self.pos = start + n
        return start

    def u8(self) -> int:
        return self._view[self._advance(1)]

    def u16(self) -> int:
        return int(_U16.unpack_from(self._view, self._advance(2))[0])

    def varint(self) -> int:
        value = 0
        for shift in (0, 7, 14, 21):
            byte = self.u8()
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
        raise ValueError("variable byte integer longer than 4 bytes")

    def take(self, n: int) -> bytes:
        start = self._advance(n)
        return bytes(self._view[start : start + n])

    def binary(self) -> bytes:
        return self.take(self.u16())

    def utf8(self) -> str:
        text = str(self.take(self.u16()), "utf-8")  # strict: rejects surrogates and overlongs
        if "\x00" in text:
            raise ValueError("UTF-8 string contains U+0000")
        return text

    def rest(self) -> bytes:
        return self.take(self.remaining)

    def sub(self, n: int) -> Reader:
        """A reader over the next n bytes, which this reader skips."""
        start = self._advance(n)
        return Reader(self._view, start, start + n)

    def finish(self) -> None:
        if self.pos != self.end:
            raise ValueError(f"{self.end - self.pos} unexpected bytes at the end of the packet")


def _checked(pid: PropertyId, value: object) -> PropertyValue:
    ptype = PROPERTY_SPECS[pid][0]
    if ptype in _INT_MAX:
        if not isinstance(value, int) or not 0 <= value <= _INT_MAX[ptype]:
            raise ValueError(f"{pid.name} must be an integer in 0..{_INT_MAX[ptype]}: {value!r}")
        if value == 0 and pid in _NONZERO:
            raise ValueError(f"{pid.name} must not be 0")
        return int(value)
    if ptype is _T.UTF8:
        if not isinstance(value, str):
            raise ValueError(f"{pid.name} must be a str: {value!r}")
        pack_utf8(value)
        return value
    if ptype is _T.BINARY:
        if not isinstance(value, bytes | bytearray | memoryview) or len(value) > 0xFFFF:
            raise ValueError(f"{pid.name} must be bytes of at most 65535: {value!r}")
        return bytes(value)
    raise ValueError(f"{pid.name} repeats: give it as user_properties/subscription_identifiers")


class Properties(Mapping[PropertyId, PropertyValue]):
    """An immutable set of MQTT 5 properties, compared by value.

    The mapping holds the single-valued properties (int, str or bytes by type); the two that may
    repeat have their own tuples, in wire order. `bool()` is False only when nothing is set.
    """

    __slots__ = ("_subscription_identifiers", "_user_properties", "_values")

    def __init__(
        self,
        values: Mapping[PropertyId, PropertyValue] | None = None,
        *,
        user_properties: Iterable[tuple[str, str]] = (),
        subscription_identifiers: Iterable[int] = (),
    ) -> None:
        self._values = {
            PropertyId(k): _checked(PropertyId(k), v) for k, v in (values or {}).items()
        }
        self._user_properties = tuple((k, v) for k, v in user_properties)
        self._subscription_identifiers = tuple(subscription_identifiers)
        for key, val in self._user_properties:
            if not isinstance(key, str) or not isinstance(val, str):
                raise ValueError(f"user property must be a pair of str: {(key, val)!r}")
            pack_utf8(key)
            pack_utf8(val)
        for sid in self._subscription_identifiers:
            if not isinstance(sid, int) or not 1 <= sid <= MAX_VARINT:
                raise ValueError(f"subscription identifier out of range: {sid!r}")

    @property
    def user_properties(self) -> tuple[tuple[str, str], ...]:
        return self._user_properties

    @property
    def subscription_identifiers(self) -> tuple[int, ...]:
        return self._subscription_identifiers

    def __getitem__(self, key: PropertyId) -> PropertyValue:
        return self._values[key]

    def __iter__(self) -> Iterator[PropertyId]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __bool__(self) -> bool:
        return bool(self._values or self._user_properties or self._subscription_identifiers)

    def get_int(self, key: PropertyId) -> int | None:
        value = self._values.get(key)
        return value if isinstance(value, int) else None

    def get_str(self, key: PropertyId) -> str | None:
        value = self._values.get(key)
        return value if isinstance(value, str) else None

    def get_bytes(self, key: PropertyId) -> bytes | None:
        value = self._values.get(key)
        return value if isinstance(value, bytes) else None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Properties):
            return NotImplemented
        return (
            self._values == other._values
            and self._user_properties == other._user_properties
            and self._subscription_identifiers == other._subscription_identifiers
        )

    def __hash__(self) -> int:
        items = frozenset(self._values.items())
        return hash((items, self._user_properties, self._subscription_identifiers))

    def __repr__(self) -> str:
        parts = [repr({k.name: v for k, v in self._values.items()})] if self._values else []
        if self._user_properties:
            parts.append(f"user_properties={self._user_properties!r}")
        if self._subscription_identifiers:
            parts.append(f"subscription_identifiers={self._subscription_identifiers!r}")
        return f"Properties({', '.join(parts)})"


def encode_properties(props: Properties, packet: str) -> bytes:
    """Property Length and properties, for `packet` (a PacketType name or WILL)."""
    parts: list[bytes] = []
    for pid, value in props.items():
        ptype, allowed = PROPERTY_SPECS[pid]
        if packet not in allowed:
            raise ValueError(f"{pid.name} is not allowed in {packet}")
        parts.append(bytes((pid,)))
        if isinstance(value, str):
            parts.append(pack_utf8(value))
        elif isinstance(value, bytes):
            parts.append(pack_binary(value))
        else:
            parts.append(value.to_bytes(ptype.value, "big"))  # the enum value is the width
    for key, val in props.user_properties:
        parts += (b"\x26", pack_utf8(key), pack_utf8(val))
    if props.subscription_identifiers and packet not in ("PUBLISH", "SUBSCRIBE"):
        raise ValueError(f"SUBSCRIPTION_IDENTIFIER is not allowed in {packet}")
    for sid in props.subscription_identifiers:
        parts += (b"\x0b", pack_varint(sid))
    body = b"".join(parts)
    return pack_varint(len(body)) + body


def decode_properties(reader: Reader, packet: str) -> Properties:
    """Read Property Length and properties for `packet` (a PacketType name or WILL)."""
    r = reader.sub(reader.varint())
    values: dict[PropertyId, PropertyValue] = {}
    user: list[tuple[str, str]] = []
    sids: list[int] = []
    while r.remaining:
        raw = r.varint()
        try:
            pid = PropertyId(raw)
        except ValueError:
            raise ValueError(f"unknown property identifier {raw}") from None
        ptype, allowed = PROPERTY_SPECS[pid]
        if packet not in allowed:
            raise ValueError(f"{pid.name} is not allowed in {packet}")
        if ptype is _T.UTF8_PAIR:
            user.append((r.utf8(), r.utf8()))
            continue
        if ptype is _T.VARINT:
            sids.append(r.varint())
            continue
        if pid in values:
            raise ValueError(f"{pid.name} included more than once")
        if ptype is _T.UTF8:
            values[pid] = r.utf8()
        elif ptype is _T.BINARY:
            values[pid] = r.binary()
        else:
            values[pid] = int.from_bytes(r.take(ptype.value), "big")
    return Properties(values, user_properties=user, subscription_identifiers=sids)
