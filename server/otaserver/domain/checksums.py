"""The checksum text of spec §5: lower-case hex of the hash's bytes as Guava orders them.

Guava stores 32-bit hashes (CRC32, MURMUR3_32) little-endian, so their text is the byte-reversed
hex of the integer: CRC32 of b"123456789" is 0xCBF43926 and its text is "2639f4cb".
"""

from __future__ import annotations

import re
import struct

from . import faults
from .enums import ChecksumAlgorithm
from .errors import BadRequest
from .faults import Fault

# Hex digits of each algorithm's text, so a malformed checksum is refused before any upload.
HEX_LENGTH = {
    ChecksumAlgorithm.MD5: 32,
    ChecksumAlgorithm.SHA256: 64,
    ChecksumAlgorithm.SHA384: 96,
    ChecksumAlgorithm.SHA512: 128,
    ChecksumAlgorithm.CRC32: 8,
    ChecksumAlgorithm.MURMUR3_32: 8,
    ChecksumAlgorithm.MURMUR3_128: 32,
}

MAX_CHECKSUM_LENGTH = 1020
_HEX = re.compile(r"[0-9a-f]*")


def text_of_uint32(value: int) -> str:
    """The text of a 32-bit hash value (CRC32, MURMUR3_32): its little-endian bytes in hex."""
    text = struct.pack("<I", value & 0xFFFFFFFF).hex()
    return (text.lstrip("0") or "0") if faults.active(Fault.CHECKSUM_UNPADDED) else text


def parse_algorithm(name: str | None) -> ChecksumAlgorithm:
    """Reads `checksumAlgorithm` case-insensitively, as ThingsBoard does."""
    if name is None or not name.strip():
        raise BadRequest("checksumAlgorithm is required!")
    try:
        return ChecksumAlgorithm(name.strip().upper())
    except ValueError:
        allowed = ", ".join(a.value for a in ChecksumAlgorithm)
        raise BadRequest(f"Unknown checksumAlgorithm '{name}'; expected one of {allowed}") from None


def normalize_checksum(algorithm: ChecksumAlgorithm, text: str) -> str:
    """A user's checksum made comparable (trimmed, lower case), or BadRequest if malformed."""
    if len(text) > MAX_CHECKSUM_LENGTH:
        raise BadRequest(f"checksum length must be at most {MAX_CHECKSUM_LENGTH} characters!")
    value = text.strip().lower()
    if not _HEX.fullmatch(value) or len(value) != HEX_LENGTH[algorithm]:
        raise BadRequest(
            f"checksum '{text}' is not a {algorithm.value} checksum: expected "
            f"{HEX_LENGTH[algorithm]} lower-case hex digits"
        )
    return value
