"""CoAP datagrams checked before aiocoap decodes them (RFC 7252 §3 and §4.2).

aiocoap accepts some message format errors (a token length of 9 to 15, a reserved code class, a
payload marker with no payload, bytes after an empty message) and mistakes others for requests
or responses; a few make its decoder raise (an option that is not UTF-8). Checking the framing
here first lets the transport answer what RFC 7252 says and drop the rest, in one place.
Pure functions over bytes: no socket, no aiocoap.
"""

from __future__ import annotations

from dataclasses import dataclass

VERSION = 1
CON, NON, ACK, RST = 0, 1, 2, 3
PAYLOAD_MARKER = 0xFF
MAX_TOKEN_LENGTH = 8
MAX_OPTION_NUMBER = 0xFFFF
BAD_OPTION = (4 << 5) | 2  # 4.02
REQUEST_ENTITY_TOO_LARGE = (4 << 5) | 13  # 4.13
_RESERVED_CLASSES = (1, 6, 7)


@dataclass(frozen=True)
class Header:
    """The fixed four bytes of a CoAP message, and its token when the datagram holds it."""

    mtype: int
    code: int
    mid: int
    token: bytes

    @property
    def confirmable(self) -> bool:
        return self.mtype == CON

    @property
    def is_request(self) -> bool:
        return self.code >> 5 == 0 and self.code != 0


def header_of(data: bytes) -> Header | None:
    """The header, or None for a datagram that is no CoAP message at all (too short, another
    version): RFC 7252 §3 says to ignore those silently, with no reset."""
    if len(data) < 4 or data[0] >> 6 != VERSION:
        return None
    token_length = data[0] & 0x0F
    token = data[4 : 4 + token_length] if token_length <= MAX_TOKEN_LENGTH else b""
    return Header((data[0] >> 4) & 0x03, data[1], int.from_bytes(data[2:4], "big"), token)


def format_error(data: bytes, header: Header) -> str | None:
    """Why the datagram is a message format error (RFC 7252 §3, §4.2, §12.1), or None."""
    token_length = data[0] & 0x0F
    if token_length > MAX_TOKEN_LENGTH:
        return f"token length {token_length} is reserved"
    if len(data) < 4 + token_length:
        return "the token is cut short"
    if header.code >> 5 in _RESERVED_CLASSES:
        return f"code {header.code >> 5}.{header.code & 0x1F:02d} is of a reserved class"
    if header.code == 0:
        if header.mtype == NON:
            return "a non-confirmable message is empty"
        return "an empty message has bytes after its header" if len(data) > 4 else None
    if header.mtype == RST:
        return "a reset is not empty"
    if header.mtype == ACK and header.is_request:
        return "an acknowledgement carries a request"
    return _options_error(data, 4 + token_length)


def _options_error(data: bytes, position: int) -> str | None:
    number = 0
    while position < len(data):
        first = data[position]
        if first == PAYLOAD_MARKER:
            return "a payload marker with no payload" if position + 1 == len(data) else None
        position += 1
        delta, position = _extended(first >> 4, data, position)
        length, position = _extended(first & 0x0F, data, position)
        if delta < 0 or length < 0:
            return "an option header is cut short or uses the reserved value 15"
        number += delta
        if number > MAX_OPTION_NUMBER:
            return f"option number {number} is out of range"
        position += length
        if position > len(data):
            return f"option {number} is longer than the datagram"
    return None


def _extended(nibble: int, data: bytes, position: int) -> tuple[int, int]:
    """An option delta or length with its extension bytes; -1 when malformed."""
    if nibble < 13:
        return nibble, position
    if nibble == 13 and position + 1 <= len(data):
        return data[position] + 13, position + 1
    if nibble == 14 and position + 2 <= len(data):
        return int.from_bytes(data[position : position + 2], "big") + 269, position + 2
    return -1, position


def reset(header: Header) -> bytes:
    """The Reset that rejects a confirmable message (RFC 7252 §4.2)."""
    return bytes([VERSION << 6 | RST << 4, 0]) + header.mid.to_bytes(2, "big")


def piggybacked(header: Header, code: int, diagnostic: str) -> bytes:
    """An acknowledgement carrying the response `code` to a confirmable request, with a
    diagnostic payload (RFC 7252 §5.5.2)."""
    first = VERSION << 6 | ACK << 4 | len(header.token)
    head = bytes([first, code]) + header.mid.to_bytes(2, "big") + header.token
    return head + bytes([PAYLOAD_MARKER]) + diagnostic.encode() if diagnostic else head
