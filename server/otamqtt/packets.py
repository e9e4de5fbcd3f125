"""MQTT control packets as immutable values, shared by 3.1.1 and 5.0.

Fields that only MQTT 5 has (properties, most reason codes) keep their defaults in 3.1.1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import TypeAlias, get_args

from .properties import Properties


class PacketType(IntEnum):
    CONNECT = 1
    CONNACK = 2
    PUBLISH = 3
    PUBACK = 4
    PUBREC = 5
    PUBREL = 6
    PUBCOMP = 7
    SUBSCRIBE = 8
    SUBACK = 9
    UNSUBSCRIBE = 10
    UNSUBACK = 11
    PINGREQ = 12
    PINGRESP = 13
    DISCONNECT = 14
    AUTH = 15


class ProtocolVersion(IntEnum):
    """The CONNECT packet's protocol level."""

    V311 = 4
    V5 = 5


class ConnectReturnCode(IntEnum):
    """MQTT 3.1.1 CONNACK return codes."""

    ACCEPTED = 0
    UNACCEPTABLE_PROTOCOL_VERSION = 1
    IDENTIFIER_REJECTED = 2
    SERVER_UNAVAILABLE = 3
    BAD_USERNAME_OR_PASSWORD = 4
    NOT_AUTHORIZED = 5


class ReasonCode(IntEnum):
    """MQTT 5 reason codes (spec 2.4); the names sharing a value are aliases."""

    SUCCESS = 0x00
    NORMAL_DISCONNECTION = 0x00
    GRANTED_QOS_0 = 0x00
    GRANTED_QOS_1 = 0x01
    GRANTED_QOS_2 = 0x02
    DISCONNECT_WITH_WILL_MESSAGE = 0x04
    NO_MATCHING_SUBSCRIBERS = 0x10
    NO_SUBSCRIPTION_EXISTED = 0x11
    CONTINUE_AUTHENTICATION = 0x18
    RE_AUTHENTICATE = 0x19
    UNSPECIFIED_ERROR = 0x80
    MALFORMED_PACKET = 0x81
    PROTOCOL_ERROR = 0x82
    IMPLEMENTATION_SPECIFIC_ERROR = 0x83
    UNSUPPORTED_PROTOCOL_VERSION = 0x84
    CLIENT_IDENTIFIER_NOT_VALID = 0x85
    BAD_USERNAME_OR_PASSWORD = 0x86
    NOT_AUTHORIZED = 0x87
    SERVER_UNAVAILABLE = 0x88
    SERVER_BUSY = 0x89
    BANNED = 0x8A
    SERVER_SHUTTING_DOWN = 0x8B
    BAD_AUTHENTICATION_METHOD = 0x8C
    KEEP_ALIVE_TIMEOUT = 0x8D
    SESSION_TAKEN_OVER = 0x8E
    TOPIC_FILTER_INVALID = 0x8F
    TOPIC_NAME_INVALID = 0x90
    PACKET_IDENTIFIER_IN_USE = 0x91
    PACKET_IDENTIFIER_NOT_FOUND = 0x92
    RECEIVE_MAXIMUM_EXCEEDED = 0x93
    TOPIC_ALIAS_INVALID = 0x94
    PACKET_TOO_LARGE = 0x95
    MESSAGE_RATE_TOO_HIGH = 0x96
    QUOTA_EXCEEDED = 0x97
    ADMINISTRATIVE_ACTION = 0x98
    PAYLOAD_FORMAT_INVALID = 0x99
    RETAIN_NOT_SUPPORTED = 0x9A
    QOS_NOT_SUPPORTED = 0x9B
    USE_ANOTHER_SERVER = 0x9C
    SERVER_MOVED = 0x9D
    SHARED_SUBSCRIPTIONS_NOT_SUPPORTED = 0x9E
    CONNECTION_RATE_EXCEEDED = 0x9F
    MAXIMUM_CONNECT_TIME = 0xA0
    SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED = 0xA1
    WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED = 0xA2


def _codes(text: str) -> frozenset[int]:
    return frozenset(int(code, 16) for code in text.split())


_PUBACK_CODES = _codes("00 10 80 83 87 90 91 97 99")
_PUBREL_CODES = _codes("00 92")
# The reason codes each MQTT 5 packet may carry (spec 3.x.2.1); the codec checks both ways.
REASON_CODES: dict[PacketType, frozenset[int]] = {
    PacketType.CONNACK: _codes("00 80 81 82 83 84 85 86 87 88 89 8A 8C 90 95 97 99 9A 9B 9C 9D 9F"),
    PacketType.PUBACK: _PUBACK_CODES,
    PacketType.PUBREC: _PUBACK_CODES,
    PacketType.PUBREL: _PUBREL_CODES,
    PacketType.PUBCOMP: _PUBREL_CODES,
    PacketType.SUBACK: _codes("00 01 02 80 83 87 8F 91 97 9E A1 A2"),
    PacketType.UNSUBACK: _codes("00 11 80 83 87 8F 91"),
    PacketType.DISCONNECT: _codes(
        "00 04 80 81 82 83 87 89 8B 8D 8E 8F 90 93 94 95 96 97 98 99 9A 9B 9C 9D 9E 9F A0 A1 A2"
    ),
    PacketType.AUTH: _codes("00 18 19"),
}
# MQTT 3.1.1 has return codes in CONNACK and SUBACK only.
RETURN_CODES_V311: dict[PacketType, frozenset[int]] = {
    PacketType.CONNACK: frozenset(ConnectReturnCode),
    PacketType.SUBACK: _codes("00 01 02 80"),
}


def valid_reason_codes(ptype: PacketType, version: ProtocolVersion) -> frozenset[int]:
    if version is ProtocolVersion.V5:
        return REASON_CODES.get(ptype, frozenset())
    return RETURN_CODES_V311.get(ptype, frozenset({0}))


# Fixed-header flags (spec 2.1.3): these three have 0b0010, PUBLISH its own, all others 0.
FIXED_FLAGS = {PacketType.PUBREL: 2, PacketType.SUBSCRIBE: 2, PacketType.UNSUBSCRIBE: 2}
# Packets only one side sends; all others go both ways (DISCONNECT only to the server in 3.1.1).
CLIENT_ONLY = frozenset(
    {PacketType.CONNECT, PacketType.SUBSCRIBE, PacketType.UNSUBSCRIBE, PacketType.PINGREQ}
)
SERVER_ONLY = frozenset(
    {PacketType.CONNACK, PacketType.SUBACK, PacketType.UNSUBACK, PacketType.PINGRESP}
)


@dataclass(frozen=True)
class Will:
    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False
    properties: Properties = field(default_factory=Properties)


@dataclass(frozen=True)
class Connect:
    client_id: str
    protocol_version: ProtocolVersion
    clean_start: bool  # 3.1.1's Clean Session
    keep_alive: int
    username: str | None = None
    password: bytes | None = None
    will: Will | None = None
    properties: Properties = field(default_factory=Properties)
    protocol_name: str = "MQTT"


@dataclass(frozen=True)
class ConnAck:
    session_present: bool
    reason_code: int  # a ConnectReturnCode in 3.1.1, a ReasonCode in 5
    properties: Properties = field(default_factory=Properties)


@dataclass(frozen=True)
class Publish:
    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False
    dup: bool = False
    packet_id: int | None = None  # present iff qos > 0
    properties: Properties = field(default_factory=Properties)


@dataclass(frozen=True)
class PubAck:
    packet_id: int
    reason_code: int = 0
    properties: Properties = field(default_factory=Properties)


@dataclass(frozen=True)
class PubRec:
    packet_id: int
    reason_code: int = 0
    properties: Properties = field(default_factory=Properties)


@dataclass(frozen=True)
class PubRel:
    packet_id: int
    reason_code: int = 0
    properties: Properties = field(default_factory=Properties)


@dataclass(frozen=True)
class PubComp:
    packet_id: int
    reason_code: int = 0
    properties: Properties = field(default_factory=Properties)


@dataclass(frozen=True)
class Subscription:
    topic_filter: str
    qos: int
    no_local: bool = False  # this and the next two are MQTT 5 only
    retain_as_published: bool = False
    retain_handling: int = 0


@dataclass(frozen=True)
class Subscribe:
    packet_id: int
    subscriptions: tuple[Subscription, ...]
    properties: Properties = field(default_factory=Properties)


@dataclass(frozen=True)
class SubAck:
    packet_id: int
    reason_codes: tuple[int, ...]  # 3.1.1: 0, 1, 2 or 0x80
    properties: Properties = field(default_factory=Properties)


@dataclass(frozen=True)
class Unsubscribe:
    packet_id: int
    topic_filters: tuple[str, ...]
    properties: Properties = field(default_factory=Properties)


@dataclass(frozen=True)
class UnsubAck:
    packet_id: int
    reason_codes: tuple[int, ...] = ()  # always () in 3.1.1, whose UNSUBACK has no payload
    properties: Properties = field(default_factory=Properties)


@dataclass(frozen=True)
class PingReq:
    pass


@dataclass(frozen=True)
class PingResp:
    pass


@dataclass(frozen=True)
class Disconnect:
    reason_code: int = 0
    properties: Properties = field(default_factory=Properties)


@dataclass(frozen=True)
class Auth:
    reason_code: int = 0
    properties: Properties = field(default_factory=Properties)


Packet: TypeAlias = (
    Connect
    | ConnAck
    | Publish
    | PubAck
    | PubRec
    | PubRel
    | PubComp
    | Subscribe
    | SubAck
    | Unsubscribe
    | UnsubAck
    | PingReq
    | PingResp
    | Disconnect
    | Auth
)

# Each class's packet type: the class names are the type names, but for case.
PACKET_TYPES: dict[type[Packet], PacketType] = {
    cls: PacketType[cls.__name__.upper()] for cls in get_args(Packet)
}
