"""MQTT bytes written by hand, for tests that need what paho will not send or send quickly.

Independent of the server's codec, so that a test never checks the codec against itself.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def utf8(text: str | bytes) -> bytes:
    data = text.encode() if isinstance(text, str) else text
    return len(data).to_bytes(2, "big") + data


def packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + varint(len(body)) + body


def connect(token: str, level: int = 4, keep_alive: int = 60, client_id: str = "") -> bytes:
    """A clean-session CONNECT with `token` as user name (MQTT 3.1.1 is level 4, 5 is 5)."""
    head = utf8("MQTT") + bytes([level, 0x82]) + keep_alive.to_bytes(2, "big")
    properties = b"\x00" if level == 5 else b""
    return packet(0x10, head + properties + utf8(client_id) + utf8(token))


def publish(topic: str, payload: bytes, level: int = 4, qos: int = 0, packet_id: int = 1) -> bytes:
    head = utf8(topic) + (packet_id.to_bytes(2, "big") if qos else b"")
    properties = b"\x00" if level == 5 else b""
    return packet(0x30 | qos << 1, head + properties + payload)


def subscribe(packet_id: int, filters: list[str], level: int = 4, qos: int = 1) -> bytes:
    properties = b"\x00" if level == 5 else b""
    body = b"".join(utf8(f) + bytes([qos]) for f in filters)
    return packet(0x82, packet_id.to_bytes(2, "big") + properties + body)


def read_varint(data: bytes, pos: int) -> tuple[int, int] | None:
    """The variable byte integer at `pos` and the position after it; None if the data ends
    inside it."""
    value, shift = 0, 0
    while pos < len(data):
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos
    return None


def frame(data: bytes, pos: int = 0) -> tuple[int, int] | None:
    """(body start, end) of the packet at `pos`; None until its bytes are all in.

    A remaining length of more than four bytes ends the packet right there, so that a caller
    cutting garbage into packets always makes progress.
    """
    length, shift, i = 0, 0, pos + 1
    while i < len(data):
        byte = data[i]
        length |= (byte & 0x7F) << shift
        shift += 7
        i += 1
        if not byte & 0x80:
            return (i, i + length) if i + length <= len(data) else None
        if i - pos > 4:
            return i, i
    return None


def split(data: bytes) -> tuple[list[bytes], bytes]:
    """The whole packets at the start of `data`, and the bytes of an unfinished one after them."""
    packets, pos = [], 0
    while (found := frame(data, pos)) is not None:
        packets.append(data[pos : found[1]])
        pos = found[1]
    return packets, data[pos:]


@dataclass(frozen=True)
class Received:
    """A packet from the server: its type (the high nibble), flags and body."""

    kind: int
    flags: int
    body: bytes

    @classmethod
    def of(cls, packet: bytes) -> Received:
        """A whole packet, as `split` returns it, taken apart."""
        found = frame(packet)
        assert found is not None, packet
        return cls(packet[0] >> 4, packet[0] & 0x0F, packet[found[0] : found[1]])

    def publish(self, level: int) -> tuple[str, bytes]:
        """The topic and payload of a PUBLISH."""
        assert self.kind == 3, self
        size = int.from_bytes(self.body[:2], "big")
        topic, pos = self.body[2 : 2 + size].decode(), 2 + size
        if self.flags & 0b0110:
            pos += 2
        if level == 5:
            properties = read_varint(self.body, pos)
            assert properties is not None, self
            length, pos = properties
            pos += length
        return topic, self.body[pos:]


class RawDevice:
    """A socket speaking hand-written MQTT, one packet read at a time."""

    def __init__(self, port: int, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self._pending = b""
        self.level = 4

    def __enter__(self) -> RawDevice:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.sock.close()

    def connect(self, token: str, level: int = 4, keep_alive: int = 60) -> int:
        """Sends CONNECT and returns the CONNACK's return or reason code."""
        self.level = level
        self.sock.sendall(connect(token, level, keep_alive))
        connack = self.read()
        assert connack is not None and connack.kind == 2, connack
        return connack.body[1]

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read(self) -> Received | None:
        """The next packet; None when the server closed the connection."""
        while (found := frame(self._pending)) is None:
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                data = b""
            if not data:
                return None
            self._pending += data
        (start, end), first = found, self._pending[0]
        body, self._pending = self._pending[start:end], self._pending[end:]
        return Received(first >> 4, first & 0x0F, body)

    def next_publish(self) -> tuple[str, bytes]:
        """The topic and payload of the next PUBLISH, skipping acks."""
        while True:
            received = self.read()
            assert received is not None, "the server closed the connection"
            if received.kind == 3:
                return received.publish(self.level)

    def closed_by_server(self, wait: float = 5.0) -> bool:
        """Reads until the server closes (True) or `wait` passes without that (False)."""
        deadline = time.monotonic() + wait
        self.sock.settimeout(wait)
        while time.monotonic() < deadline:
            try:
                if self.read() is None:
                    return True
            except TimeoutError:
                return False
        return False
