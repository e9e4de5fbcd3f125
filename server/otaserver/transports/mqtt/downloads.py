"""Chunked package downloads over MQTT: request-id bindings and the PUBLISH that carries data."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from otamqtt.codec import encode
from otamqtt.packets import ProtocolVersion, Publish
from otamqtt.properties import pack_varint

from ...domain.inputs import parse_decimal
from ...services.device_api import PackageData

# The largest remaining length MQTT can express.
MAX_REMAINING_LENGTH = 268_435_455


class DownloadError(Exception):
    """A download error, sent as text on v2/fw/error before the connection closes."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class Binding:
    """A request id's package for the rest of the connection, and its last chunk size."""

    data: PackageData
    chunk_size: int = 0


class Bindings:
    """A connection's request ids and their bindings, at most `limit` of them.

    Past the limit the binding used least recently is forgotten: a device that comes back to
    that request id has it resolved again, as on a new connection. A device downloads one or
    two packages at a time, so only one that invents request ids ever loses a binding.
    """

    __slots__ = ("_bindings", "_limit")

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._bindings: OrderedDict[tuple[str, str], Binding] = OrderedDict()

    def __len__(self) -> int:
        return len(self._bindings)

    def get(self, key: tuple[str, str]) -> Binding | None:
        binding = self._bindings.get(key)
        if binding is not None:
            self._bindings.move_to_end(key)
        return binding

    def put(self, key: tuple[str, str], binding: Binding) -> None:
        self._bindings[key] = binding
        self._bindings.move_to_end(key)
        while len(self._bindings) > self._limit:
            self._bindings.popitem(last=False)


def parse_chunk_size(payload: bytes) -> int:
    """The chunk size of a request: decimal text; empty means 0 (whole file or the last size)."""
    text = payload.decode("ascii", "replace").strip()
    if not text:
        return 0
    try:
        size = parse_decimal(text)
    except ValueError:
        raise DownloadError("INVALID_CHUNK_SIZE") from None
    if size is None:  # more digits than any size: larger than any limit
        raise DownloadError("PAYLOAD_TOO_LARGE")
    return size


def publish_header(
    topic: str, qos: int, packet_id: int | None, payload_size: int, version: ProtocolVersion
) -> bytes:
    """The bytes of a PUBLISH up to its payload, for a payload streamed after it."""
    empty = encode(Publish(topic, b"", qos=qos, packet_id=packet_id), version)
    length_bytes = 1
    while empty[length_bytes] & 0x80:
        length_bytes += 1
    body = empty[1 + length_bytes :]
    remaining = len(body) + payload_size
    if remaining > MAX_REMAINING_LENGTH:
        raise DownloadError("PAYLOAD_TOO_LARGE")
    return empty[:1] + pack_varint(remaining) + body
