"""CoAP datagrams by hand, for tests that must send what no client would send.

RFC 7252 §3 encoding, with the extended option delta and length forms, a decoder for the
server's replies, and a bare UDP endpoint. Independent of the server's own code on purpose.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

CON, NON, ACK, RST = 0, 1, 2, 3
EMPTY, GET, POST = 0, 1, 2
IF_MATCH, OBSERVE, URI_PATH, URI_PATH_ABBREV, URI_QUERY = 1, 6, 11, 13, 15
BLOCK2, BLOCK1, PROXY_URI = 23, 27, 35
Option = tuple[int, bytes]


def code(class_: int, detail: int) -> int:
    return class_ << 5 | detail


CONTENT, CREATED = code(2, 5), code(2, 1)
BAD_REQUEST, UNAUTHORIZED, BAD_OPTION = code(4, 0), code(4, 1), code(4, 2)
NOT_FOUND, METHOD_NOT_ALLOWED = code(4, 4), code(4, 5)
REQUEST_ENTITY_TOO_LARGE = code(4, 13)
INTERNAL_SERVER_ERROR, PROXYING_NOT_SUPPORTED = code(5, 0), code(5, 5)


def uint(value: int) -> bytes:
    """An unsigned integer option value in as few bytes as it takes (0: none)."""
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def block(number: int, more: bool, szx: int) -> bytes:
    return uint(number << 4 | more << 3 | szx)


def _nibble(value: int) -> tuple[int, bytes]:
    if value < 13:
        return value, b""
    if value < 269:
        return 13, bytes([value - 13])
    return 14, (value - 269).to_bytes(2, "big")


def encode_options(options: Iterable[Option]) -> bytes:
    out, previous = bytearray(), 0
    for number, value in sorted(options, key=lambda option: option[0]):
        delta, delta_ext = _nibble(number - previous)
        length, length_ext = _nibble(len(value))
        out += bytes([delta << 4 | length]) + delta_ext + length_ext + value
        previous = number
    return bytes(out)


def encode(
    mtype: int,
    code: int,
    mid: int,
    token: bytes = b"",
    options: Iterable[Option] = (),
    payload: bytes = b"",
) -> bytes:
    head = bytes([0x40 | mtype << 4 | len(token), code]) + mid.to_bytes(2, "big") + token
    return head + encode_options(options) + (b"\xff" + payload if payload else b"")


def request(
    path: str | Iterable[bytes],
    query: Iterable[bytes] = (),
    *,
    method: int = GET,
    mtype: int = CON,
    mid: int = 1,
    token: bytes = b"\x01",
    extra: Iterable[Option] = (),
    payload: bytes = b"",
) -> bytes:
    """A request; `path` is "/a/b" or the raw bytes of each Uri-Path segment."""
    segments = [s.encode() for s in path.strip("/").split("/")] if isinstance(path, str) else path
    options = [(URI_PATH, s) for s in segments] + [(URI_QUERY, q) for q in query] + list(extra)
    return encode(mtype, method, mid, token, options, payload)


@dataclass
class Reply:
    mtype: int
    code: int
    mid: int
    token: bytes
    options: list[Option] = field(default_factory=list)
    payload: bytes = b""

    def option(self, number: int) -> bytes | None:
        return next((value for n, value in self.options if n == number), None)

    @property
    def code_text(self) -> str:
        return f"{self.code >> 5}.{self.code & 0x1F:02d}"


def decode(data: bytes) -> Reply:
    """A well-formed message (the server's replies)."""
    token_length = data[0] & 0x0F
    reply = Reply((data[0] >> 4) & 3, data[1], int.from_bytes(data[2:4], "big"), b"")
    reply.token = data[4 : 4 + token_length]
    position, number = 4 + token_length, 0
    while position < len(data):
        if data[position] == 0xFF:
            reply.payload = data[position + 1 :]
            break
        first = data[position]
        position += 1
        values = []
        for nibble in (first >> 4, first & 0x0F):
            if nibble == 13:
                values.append(data[position] + 13)
                position += 1
            elif nibble == 14:
                values.append(int.from_bytes(data[position : position + 2], "big") + 269)
                position += 2
            else:
                values.append(nibble)
        number += values[0]
        reply.options.append((number, data[position : position + values[1]]))
        position += values[1]
    return reply


class RawEndpoint:
    """A UDP socket that sends datagrams to the server and reads its replies."""

    def __init__(self, port: int) -> None:
        self.address = ("127.0.0.1", port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))

    def __enter__(self) -> RawEndpoint:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendto(data, self.address)

    def replies(self, timeout: float) -> Iterator[Reply]:
        """Replies until none comes for `timeout` seconds."""
        self.sock.settimeout(timeout)
        while True:
            try:
                yield decode(self.sock.recv(65536))
            except (TimeoutError, BlockingIOError):
                return

    def exchange(self, data: bytes, timeout: float = 2.0) -> Reply | None:
        """The reply to `data` (matched by message ID), or None when none comes in time."""
        mid = int.from_bytes(data[2:4], "big") if len(data) >= 4 else None
        self.send(data)
        return next((r for r in self.replies(timeout) if r.mid == mid), None)
