"""The oracle of spec §5: the checksum text a ThingsBoard server stores for a package's data.

Guava's `HashCode.toString()` is lower-case hex of the hash's bytes; for CRC32 and MURMUR3_32 those
bytes are the 32-bit value little-endian, always eight digits.
"""

from __future__ import annotations

import hashlib
import struct
import zlib

import mmh3

ALGORITHMS = ("MD5", "SHA256", "SHA384", "SHA512", "CRC32", "MURMUR3_32", "MURMUR3_128")


def checksum_text(algorithm: str, data: bytes) -> str:
    if algorithm == "CRC32":
        return struct.pack("<I", zlib.crc32(data)).hex()
    if algorithm == "MURMUR3_32":
        return struct.pack("<I", mmh3.hash(data, 0, signed=False)).hex()
    if algorithm == "MURMUR3_128":
        return mmh3.hash_bytes(data).hex()
    return hashlib.new(algorithm.lower(), data).hexdigest()


def data_with_leading_zeros(algorithm: str) -> bytes:
    """Data whose checksum text starts and ends with a zero digit, to catch unpadded output.

    Both padding mistakes of spec §5 show on such data: dropping the leading zero of the text,
    and reversing the pairs of an unpadded big-endian hex.
    """
    for n in range(1_000_000):
        data = b"zero padding %d" % n
        text = checksum_text(algorithm, data)
        if text[0] == "0" and text[-2] == "0":
            return data
    raise AssertionError("no such data in a million tries")  # 1 in 256 per try
