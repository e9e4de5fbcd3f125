"""Spec §5: the checksum text of each algorithm, byte order included."""

from __future__ import annotations

import hashlib
import itertools
import struct
import zlib

import mmh3
import pytest
from hypothesis import given
from hypothesis import strategies as st

from otaserver.blobs.digests import checksum_of, new_digest
from otaserver.domain.checksums import normalize_checksum, parse_algorithm
from otaserver.domain.enums import ChecksumAlgorithm
from otaserver.domain.errors import BadRequest

A = ChecksumAlgorithm
VECTORS = [
    # The spec's own example: CRC 0xCBF43926 stored little-endian.
    (A.CRC32, b"123456789", "2639f4cb"),
    (A.CRC32, b"", "00000000"),
    # A CRC whose little-endian text starts with a zero byte: must stay padded to 8 digits.
    (A.CRC32, b"a", struct.pack("<I", zlib.crc32(b"a")).hex()),
    (A.MD5, b"123456789", "25f9e794323b453885f5181f1b624d0b"),
    (A.SHA256, b"123456789", "15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225"),
    (
        A.SHA384,
        b"abc",
        "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed"
        "8086072ba1e7cc2358baeca134c825a7",
    ),
    (
        A.SHA512,
        b"abc",
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
        "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
    ),
    # MurmurHash3 x86_32 of "123456789" with seed 0 is 0xB4FEF382, little-endian in the text.
    (A.MURMUR3_32, b"123456789", "82f3feb4"),
    (A.MURMUR3_32, b"", "00000000"),
    # MurmurHash3 x64_128, seed 0: h1 then h2, each little-endian (Guava's HashCode bytes).
    (A.MURMUR3_128, b"", "00000000000000000000000000000000"),
    (
        A.MURMUR3_128,
        b"123456789",
        mmh3.hash128(b"123456789", signed=False).to_bytes(16, "little").hex(),
    ),
]


@pytest.mark.parametrize(("algorithm", "data", "expected"), VECTORS)
def test_checksum_text(algorithm: ChecksumAlgorithm, data: bytes, expected: str) -> None:
    assert checksum_of(algorithm, data) == expected


def test_every_algorithm_has_a_vector() -> None:
    assert {algorithm for algorithm, _, _ in VECTORS} == set(ChecksumAlgorithm)


def test_murmur3_32_is_the_byte_reversed_integer() -> None:
    value = mmh3.hash(b"123456789", 0, signed=False)
    assert value == 0xB4FEF382
    assert checksum_of(A.MURMUR3_32, b"123456789") == struct.pack("<I", value).hex()


@given(data=st.binary(max_size=4096), cuts=st.lists(st.integers(0, 4096), max_size=6))
@pytest.mark.parametrize("algorithm", list(ChecksumAlgorithm))
def test_incremental_digest_equals_one_shot(
    algorithm: ChecksumAlgorithm, data: bytes, cuts: list[int]
) -> None:
    digest = new_digest(algorithm)
    edges = sorted({0, len(data), *(min(c, len(data)) for c in cuts)})
    for start, end in itertools.pairwise(edges):
        digest.update(data[start:end])
    assert digest.text() == checksum_of(algorithm, data)


@given(st.binary(max_size=1024))
def test_hashlib_algorithms_are_plain_hexdigests(data: bytes) -> None:
    for algorithm in (A.MD5, A.SHA256, A.SHA384, A.SHA512):
        assert (
            checksum_of(algorithm, data) == hashlib.new(algorithm.value.lower(), data).hexdigest()
        )


def test_algorithm_names_are_case_insensitive() -> None:
    assert parse_algorithm("sha256") is A.SHA256
    assert parse_algorithm(" Murmur3_128 ") is A.MURMUR3_128


def test_unknown_algorithm_lists_the_known_ones() -> None:
    with pytest.raises(BadRequest, match="MURMUR3_128"):
        parse_algorithm("SHA1")


def test_checksum_is_normalised_and_checked_for_shape() -> None:
    assert normalize_checksum(A.CRC32, " 2639F4CB ") == "2639f4cb"
    with pytest.raises(BadRequest, match="8 lower-case hex digits"):
        normalize_checksum(A.CRC32, "0xcbf43926")
    with pytest.raises(BadRequest):
        normalize_checksum(A.SHA256, "zz" * 32)
