"""Mutated MQTT client byte streams, made from recorded sessions with a seeded generator.

Each input is a recorded session with one to four mutations stacked, of three kinds:

- packets: duplicate, drop, swap, splice two sessions, a remaining length that lies or is
  encoded too long, a body changed with its length fixed up;
- fields of a PUBLISH, re-encoded with correct lengths: a topic level or the payload replaced
  by a token that means something to the server (digits past int()'s limit, other scripts'
  digits, wildcards, deep JSON...), or a number in a JSON payload made huge;
- bytes: bit flips, byte changes, insertions, deletions, truncation.

Broken framing exercises the decoder; well-framed packets with strange fields get past it to
the device topics, the number parsers and the JSON parser, where a byte-level change rarely
lands with its lengths intact.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator, Sequence

from tests.support.mqtt_wire import frame, read_varint, split, varint

Packets = list[bytes]

# Byte strings that mean something to an MQTT server or to what it parses.
TOKENS = [
    b"",
    b"\x00",
    b"\xff",
    b"\xff\xff\xff\x7f",
    b"+",
    b"#",
    b"/",
    b"$SYS",
    b"\xc0\x80",  # an overlong NUL
    b"\xed\xa0\x80",  # a UTF-16 surrogate
    "\u0663".encode(),  # ARABIC-INDIC DIGIT THREE
    "\uff11".encode(),  # FULLWIDTH DIGIT ONE
    b"-1",
    b" 1",
    b"1_0",
    b"0",
    b"4294967296",
    b"9" * 19,
    b"9" * 5000,
    b"0" * 5000 + b"1",
    b"[" * 3000,
    b"[" * 100 + b"]" * 100,
    b'{"a":' * 200 + b"1" + b"}" * 200,
    b"1e999",
    b"-0.0",
    b"NaN",
    b"Infinity",
    b'"\\u0000"',
    b'"\\ud800"',
    b"null",
    b"[]",
    b"{}",
    b'{"sharedKeys":' + b'"a,' * 2000 + b'"}',
    b"v2/fw/request/1/chunk/0",
    b"v2/sw/request/1/chunk/0",
    b"v1/devices/me/attributes/request/1",
]
_NUMBER = re.compile(rb"-?[0-9]+(?:\.[0-9]+)?")


def packets_of(session: bytes) -> Packets:
    packets, rest = split(session)
    return [*packets, rest] if rest else packets


def level_of(session: bytes) -> int:
    """The protocol level a recorded session's CONNECT asks for (4 is 3.1.1, 5 is 5)."""
    found = frame(session)
    return session[found[0] + 6] if found and found[1] > found[0] + 6 else 4


class Mutator:
    """An endless, reproducible stream of mutated inputs made from `sessions`."""

    def __init__(self, sessions: Sequence[bytes], seed: int) -> None:
        self._sessions = [(level_of(s), packets_of(s)) for s in sessions if s]
        self._random = random.Random(seed)
        self._level = 4
        self._packet_mutations: list[Callable[[Packets], Packets]] = [
            self._duplicate,
            self._drop,
            self._swap,
            self._splice,
            self._length,
            self._rewrite_body,
            self._publish_topic,
            self._publish_topic,
            self._publish_payload,
            self._publish_payload,
            self._publish_payload,
        ]
        self._byte_mutations: list[Callable[[bytearray], None]] = [
            self._flip,
            self._change,
            self._insert,
            self._delete,
            self._truncate,
        ]

    def __iter__(self) -> Iterator[bytes]:
        while True:
            yield self.next()

    def next(self) -> bytes:
        r = self._random
        self._level, packets = r.choice(self._sessions)
        for _ in range(r.randint(1, 4)):
            if not packets:
                break  # an empty input is an input too: a connection closed at once
            if r.random() < 0.65:
                packets = r.choice(self._packet_mutations)(packets)
            else:
                data = bytearray(b"".join(packets))
                r.choice(self._byte_mutations)(data)
                packets = packets_of(bytes(data))
        return b"".join(packets)

    # ---- packets -----------------------------------------------------------------------------

    def _pick(self, packets: Packets) -> int:
        # The CONNECT less often: a broken one ends the session before anything else is read.
        if len(packets) > 1 and self._random.random() < 0.8:
            return self._random.randrange(1, len(packets))
        return self._random.randrange(len(packets))

    def _duplicate(self, packets: Packets) -> Packets:
        i = self._pick(packets)
        copies = [packets[i]] * self._random.choice([1, 1, 2, 20])
        return [*packets[: i + 1], *copies, *packets[i + 1 :]]

    def _drop(self, packets: Packets) -> Packets:
        i = self._pick(packets)
        return packets[:i] + packets[i + 1 :]

    def _swap(self, packets: Packets) -> Packets:
        i, j = self._pick(packets), self._pick(packets)
        packets = list(packets)
        packets[i], packets[j] = packets[j], packets[i]
        return packets

    def _splice(self, packets: Packets) -> Packets:
        _, other = self._random.choice(self._sessions)
        i, j = self._random.randrange(len(packets) + 1), self._random.randrange(len(other) + 1)
        return packets[:i] + other[j:]

    def _length(self, packets: Packets) -> Packets:
        """A remaining length that lies, or says the truth in a non-minimal or 5-byte varint."""
        i = self._pick(packets)
        found = frame(packets[i])
        if found is None:
            return packets
        body = packets[i][found[0] : found[1]]
        r, length = self._random, len(body)
        encoded = r.choice(
            [
                varint(max(0, length + r.choice([-2, -1, 1, 2, 100]))),
                varint(r.choice([0, 127, 128, 16383, 16384, 2**21, 2**28 - 1])),
                bytes([length & 0x7F | 0x80, length >> 7 & 0x7F | 0x80, length >> 14]),
                b"\xff\xff\xff\xff\x01",
            ]
        )
        return _replace(packets, i, packets[i][:1] + encoded + body)

    def _rewrite_body(self, packets: Packets) -> Packets:
        """A byte-level change inside one packet, with the remaining length fixed up."""
        i = self._pick(packets)
        found = frame(packets[i])
        if found is None:
            return packets
        body = bytearray(packets[i][found[0] : found[1]])
        if body:
            self._random.choice(self._byte_mutations)(body)
        else:
            body += self._token()
        return _replace(packets, i, packets[i][:1] + varint(len(body)) + bytes(body))

    # ---- PUBLISH fields ----------------------------------------------------------------------

    def _publishes(self, packets: Packets) -> list[tuple[int, _Publish]]:
        found = [(i, _Publish.parse(p, self._level)) for i, p in enumerate(packets)]
        return [(i, p) for i, p in found if p is not None]

    def _publish_topic(self, packets: Packets) -> Packets:
        """One level of a PUBLISH topic replaced by a token, or a level added or removed."""
        publishes = self._publishes(packets)
        if not publishes:
            return packets
        r = self._random
        i, publish = r.choice(publishes)
        levels = publish.topic.split(b"/")
        at = r.randrange(len(levels))
        choice = r.random()
        if choice < 0.7:
            levels[at] = self._token()
        elif choice < 0.85:
            levels.insert(at, self._token())
        else:
            del levels[at]
        publish.topic = b"/".join(levels)
        return _replace(packets, i, publish.encode())

    def _publish_payload(self, packets: Packets) -> Packets:
        """A PUBLISH payload replaced by a token, with a number in it made huge, or changed."""
        publishes = self._publishes(packets)
        if not publishes:
            return packets
        r = self._random
        i, publish = r.choice(publishes)
        choice, payload = r.random(), publish.payload
        numbers = list(_NUMBER.finditer(payload))
        if choice < 0.35:
            payload = self._token()
        elif choice < 0.7 and numbers:
            number = r.choice(numbers)
            payload = payload[: number.start()] + self._token() + payload[number.end() :]
        elif choice < 0.85:
            at = r.randrange(len(payload) + 1)
            payload = payload[:at] + self._token() + payload[at:]
        else:
            data = bytearray(payload)
            if data:
                r.choice(self._byte_mutations)(data)
            payload = bytes(data)
        publish.payload = payload
        return _replace(packets, i, publish.encode())

    # ---- bytes -------------------------------------------------------------------------------

    def _token(self) -> bytes:
        r = self._random
        if r.random() < 0.8:
            return r.choice(TOKENS)
        return r.randbytes(r.choice([1, 2, 4, 16, 300]))

    def _flip(self, data: bytearray) -> None:
        for _ in range(self._random.choice([1, 1, 2, 8])):
            data[self._random.randrange(len(data))] ^= 1 << self._random.randrange(8)

    def _change(self, data: bytearray) -> None:
        i = self._random.randrange(len(data))
        data[i] = self._random.choice([0, 0x7F, 0x80, 0xFF, self._random.randrange(256)])

    def _insert(self, data: bytearray) -> None:
        i = self._random.randrange(len(data) + 1)
        data[i:i] = self._token()

    def _delete(self, data: bytearray) -> None:
        i = self._random.randrange(len(data))
        del data[i : i + self._random.choice([1, 1, 2, 4, 16])]

    def _truncate(self, data: bytearray) -> None:
        del data[self._random.randrange(len(data)) :]


class _Publish:
    """A PUBLISH taken apart: what comes before the topic, the topic, what lies between the
    topic and the payload (packet id, properties), the payload."""

    def __init__(self, first: int, topic: bytes, middle: bytes, payload: bytes) -> None:
        self.first, self.topic, self.middle, self.payload = first, topic, middle, payload

    @classmethod
    def parse(cls, packet: bytes, level: int) -> _Publish | None:
        found = frame(packet)
        if found is None or packet[0] >> 4 != 3 or found[1] - found[0] < 2:
            return None
        body = packet[found[0] : found[1]]
        size = int.from_bytes(body[:2], "big")
        pos = 2 + size + (2 if packet[0] & 0b0110 else 0)
        if level == 5 and pos < len(body):
            properties = read_varint(body, pos)
            if properties is None:
                return None
            length, pos = properties
            pos += length
        if pos > len(body):
            return None
        return cls(packet[0], body[2 : 2 + size], body[2 + size : pos], body[pos:])

    def encode(self) -> bytes:
        topic = self.topic[:0xFFFF]
        body = len(topic).to_bytes(2, "big") + topic + self.middle + self.payload
        return bytes([self.first]) + varint(len(body)) + body


def _replace(packets: Packets, i: int, packet: bytes) -> Packets:
    return [*packets[:i], packet, *packets[i + 1 :]]
