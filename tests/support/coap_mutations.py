"""Seeded mutations of recorded CoAP datagrams, for the datagram fuzzer.

Byte-level (bit flips, byte changes, insertions, deletions, truncations, splices) and
message-level (option numbers and values, the extended delta and length forms, invalid UTF-8,
NUL, other scripts' digits, huge numbers, header fields, payloads). One `random.Random` drives
everything, so a seed replays a run exactly.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from tests.support import coap_datagrams as wire

INVALID_UTF8 = [b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xc0\x80", b"\xe2\x82", b"\xf8\x88\x80"]
ODD_TEXT = ["\x00", "a\x00b", "²", "٣", "\uff11", "-1", "+1", " 1", "1_0", "0x10", "", "="]
OPTION_NUMBERS = [0, 1, 3, 4, 5, 6, 7, 9, 11, 12, 13, 14, 15, 17, 19, 23, 27, 28, 35, 39, 60, 258]
OPTION_NUMBERS += [2049, 2050, 65000, 65535]
PAYLOADS = [
    b"",
    b"{}",
    b'{"fw_state":"DOWNLOADING"}',
    b'{"k":"\\u0000"}',
    b'{"\\u0000":1}',
    b'{"k":"\\ud800"}',
    b'{"k":NaN}',
    b"[" * 100 + b"]" * 100,
    b'{"k":1e999999}',
    b'{"ts":-1,"values":{"a":1}}',
    b"\xff\xfe",
    b"x" * 1100,
]


def _decimal_text(rng: random.Random) -> str:
    return rng.choice(["0", "1", "1024", "4294967296", "9" * 19, "9" * 250, "0" * 250 + "7"])


class Mutator:
    def __init__(self, seeds: Sequence[bytes], seed: int) -> None:
        self._seeds = list(seeds)
        self._rng = random.Random(seed)
        byte_level: list[Callable[[bytes], bytes]] = [
            self._flip_bits,
            self._set_byte,
            self._insert,
            self._delete,
            self._truncate,
            self._splice,
            self._raw_option_header,
        ]
        message_level: list[Callable[[wire.Reply], None]] = [
            self._option_number,
            self._option_value,
            self._query,
            self._add_option,
            self._drop_option,
            self._repeat_option,
            self._header,
            self._payload,
        ]
        self._byte_level, self._message_level = byte_level, message_level

    def __call__(self) -> bytes:
        rng = self._rng
        data = rng.choice(self._seeds)
        if rng.random() < 0.5:
            message = wire.decode(data)
            for _ in range(rng.randint(1, 3)):
                rng.choice(self._message_level)(message)
            data = wire.encode(
                message.mtype,
                message.code,
                message.mid,
                message.token,
                message.options,
                message.payload,
            )
        for _ in range(rng.choice([0, 1, 1, 2, 3])):
            data = rng.choice(self._byte_level)(data)
        return data

    # byte level

    def _flip_bits(self, data: bytes) -> bytes:
        out = bytearray(data)
        for _ in range(self._rng.randint(1, 3)):
            if out:
                out[self._rng.randrange(len(out))] ^= 1 << self._rng.randrange(8)
        return bytes(out)

    def _set_byte(self, data: bytes) -> bytes:
        if not data:
            return data
        out = bytearray(data)
        out[self._rng.randrange(len(out))] = self._rng.choice([0, 0xFF, 0x0D, 0x0E, 0x0F, 0xD0])
        return bytes(out)

    def _insert(self, data: bytes) -> bytes:
        at = self._rng.randrange(len(data) + 1)
        return data[:at] + self._rng.randbytes(self._rng.randint(1, 8)) + data[at:]

    def _delete(self, data: bytes) -> bytes:
        if not data:
            return data
        at = self._rng.randrange(len(data))
        return data[:at] + data[at + self._rng.randint(1, 8) :]

    def _truncate(self, data: bytes) -> bytes:
        return data[: self._rng.randrange(len(data) + 1)]

    def _splice(self, data: bytes) -> bytes:
        other = self._rng.choice(self._seeds)
        return data[: self._rng.randrange(len(data) + 1)] + other[self._rng.randrange(len(other)) :]

    def _raw_option_header(self, data: bytes) -> bytes:
        """An option header in the extended forms, often lying about what follows."""
        rng = self._rng
        token_end = 4 + min(data[0] & 0x0F, 8) if data else 0
        at = rng.randrange(token_end, len(data) + 1) if len(data) >= token_end else len(data)
        delta, length = rng.choice([13, 14, 15, rng.randrange(13)]), rng.choice([13, 14, 15, 1])
        extension = rng.randbytes(rng.choice([0, 1, 2, 3]))
        value = rng.randbytes(rng.randint(0, 6))
        return data[:at] + bytes([delta << 4 | length]) + extension + value + data[at:]

    # message level

    def _pick(self, message: wire.Reply) -> int | None:
        return self._rng.randrange(len(message.options)) if message.options else None

    def _option_number(self, message: wire.Reply) -> None:
        index = self._pick(message)
        if index is not None:
            number = self._rng.choice([*OPTION_NUMBERS, self._rng.randrange(65536)])
            message.options[index] = (number, message.options[index][1])

    def _option_value(self, message: wire.Reply) -> None:
        index = self._pick(message)
        if index is not None:
            message.options[index] = (message.options[index][0], self._odd_value())

    def _odd_value(self) -> bytes:
        rng = self._rng
        kind = rng.randrange(5)
        if kind == 0:
            return rng.choice(INVALID_UTF8) + rng.randbytes(rng.randint(0, 3))
        if kind == 1:
            return rng.choice(ODD_TEXT).encode()
        if kind == 2:
            return b"a" * rng.choice([255, 256, 300, 1000, 3000])
        if kind == 3:
            return rng.randbytes(rng.choice([0, 1, 2, 3, 4, 5, 8]))
        return b"\x00" * rng.randint(1, 4)

    def _query(self, message: wire.Reply) -> None:
        rng = self._rng
        name = rng.choice([b"size", b"chunk", b"title", b"version", b"clientKeys", b"sharedKeys"])
        value = rng.choice([_decimal_text(rng), rng.choice(ODD_TEXT)]).encode()
        if rng.random() < 0.2:
            value = value + rng.choice(INVALID_UTF8)
        message.options.append((wire.URI_QUERY, name + b"=" + value))

    def _add_option(self, message: wire.Reply) -> None:
        rng = self._rng
        number = rng.choice(OPTION_NUMBERS)
        if number in (wire.BLOCK2, wire.BLOCK1):
            value = wire.block(
                rng.choice([0, 1, 7, 1 << 19, 1 << 20]), rng.random() < 0.5, rng.randrange(8)
            )
        elif number == wire.OBSERVE:
            value = wire.uint(rng.choice([0, 1, 2, 1 << 24]))
        else:
            value = self._odd_value()
        message.options.append((number, value))

    def _drop_option(self, message: wire.Reply) -> None:
        index = self._pick(message)
        if index is not None:
            del message.options[index]

    def _repeat_option(self, message: wire.Reply) -> None:
        index = self._pick(message)
        if index is not None:
            message.options.append(message.options[index])

    def _header(self, message: wire.Reply) -> None:
        rng = self._rng
        field = rng.randrange(4)
        if field == 0:
            message.mtype = rng.randrange(4)
        elif field == 1:
            message.code = rng.choice([0, 1, 2, 3, 4, 5, 8, 31, 32, 69, 128, 192, 224, 255])
        elif field == 2:
            message.mid = rng.randrange(65536)
        else:
            message.token = rng.randbytes(rng.choice([0, 1, 4, 8]))

    def _payload(self, message: wire.Reply) -> None:
        message.payload = self._rng.choice(PAYLOADS)
