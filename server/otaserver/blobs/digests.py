"""Incremental digests for the seven checksum algorithms, with spec §5's text."""

from __future__ import annotations

import hashlib
import zlib
from typing import Protocol

import mmh3

from ..domain import faults
from ..domain.checksums import text_of_uint32
from ..domain.enums import ChecksumAlgorithm
from ..domain.faults import Fault


class Digest(Protocol):
    def update(self, data: bytes) -> None: ...
    def text(self) -> str: ...


class _Hashlib:
    def __init__(self, name: str) -> None:
        self._hash = hashlib.new(name)

    def update(self, data: bytes) -> None:
        self._hash.update(data)

    def text(self) -> str:
        return self._hash.hexdigest()


class _Crc32:
    def __init__(self) -> None:
        self._value = 0

    def update(self, data: bytes) -> None:
        self._value = zlib.crc32(data, self._value)

    def text(self) -> str:
        if faults.active(Fault.CRC32_BIG_ENDIAN):
            return f"{self._value & 0xFFFFFFFF:08x}"
        return text_of_uint32(self._value)


class _Murmur:
    """mmh3's hashers already give Guava's byte order: little-endian words, h1 before h2."""

    def __init__(self, hasher: mmh3.mmh3_32 | mmh3.mmh3_x64_128) -> None:
        self._hasher = hasher

    def update(self, data: bytes) -> None:
        self._hasher.update(data)

    def text(self) -> str:
        return self._hasher.digest().hex()


def new_digest(algorithm: ChecksumAlgorithm) -> Digest:
    if algorithm is ChecksumAlgorithm.CRC32:
        return _Crc32()
    if algorithm is ChecksumAlgorithm.MURMUR3_32:
        return _Murmur(mmh3.mmh3_32(seed=0))
    if algorithm is ChecksumAlgorithm.MURMUR3_128:
        return _Murmur(mmh3.mmh3_x64_128(seed=0))
    return _Hashlib(algorithm.value.lower())


def checksum_of(algorithm: ChecksumAlgorithm, data: bytes) -> str:
    digest = new_digest(algorithm)
    digest.update(data)
    return digest.text()
