"""Spec §5: the server's checksum text for each algorithm (what `fw_checksum` carries)."""

from __future__ import annotations

import hashlib
import struct
import zlib

import mmh3
import pytest

from otaconformance.target import Target, rule

DATA = b"123456789" * 50 + bytes(range(256))


def expected(algorithm: str, data: bytes) -> str:
    if algorithm == "CRC32":
        return struct.pack("<I", zlib.crc32(data)).hex()
    if algorithm == "MURMUR3_32":
        return struct.pack("<I", mmh3.hash(data, 0, signed=False)).hex()
    if algorithm == "MURMUR3_128":
        return mmh3.hash_bytes(data).hex()
    return hashlib.new(algorithm.lower(), data).hexdigest()


@pytest.mark.parametrize(
    "algorithm", ["MD5", "SHA256", "SHA384", "SHA512", "CRC32", "MURMUR3_32", "MURMUR3_128"]
)
def test_computed_checksum_text(target: Target, profile: str, algorithm: str) -> None:
    info = target.package(profile, DATA, algorithm=algorithm)
    assert info["checksumAlgorithm"] == algorithm
    assert info["checksum"] == expected(algorithm, DATA), rule(
        "§5",
        f"{algorithm} text is lower-case hex of Guava's bytes (32-bit values "
        f"little-endian): expected {expected(algorithm, DATA)}, got {info['checksum']}",
    )


def test_crc32_of_the_spec_example(target: Target, profile: str) -> None:
    info = target.package(profile, b"123456789", algorithm="CRC32")
    assert info["checksum"] == "2639f4cb", rule(
        "§5", f"CRC32 of b'123456789' is '2639f4cb' (little-endian), got {info['checksum']}"
    )


def test_a_wrong_checksum_is_refused(target: Target, profile: str) -> None:
    info = target.package(profile, None)
    response = target.http.post(
        f"/api/otaPackage/{info['id']['id']}",
        params={"checksumAlgorithm": "SHA256", "checksum": "0" * 64},
        files={"file": ("image.bin", DATA, "application/octet-stream")},
    )
    assert response.status_code == 400, rule(
        "§4.5",
        f"a supplied checksum that does not match is refused (400), got {response.status_code}",
    )
    stored = target.call("GET", f"/api/otaPackage/info/{info['id']['id']}")
    assert not stored["hasData"], rule("§4.5", "a refused upload stores nothing")
