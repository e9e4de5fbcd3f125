"""Incremental checksums for the seven algorithms, with ThingsBoard's text (spec §5).

Native where the platform has them (hashlib, binascii.crc32), small portable code where
MicroPython lacks them (MD5, SHA-384/512, MurmurHash3).
"""

import binascii
import hashlib
import struct

ALGORITHMS = ("MD5", "SHA256", "SHA384", "SHA512", "CRC32", "MURMUR3_32", "MURMUR3_128")


class _Hashlib:
    def __init__(self, factory):
        self._hash = factory()

    def update(self, data):
        self._hash.update(data)

    def text(self):
        return binascii.hexlify(self._hash.digest()).decode()


class _Portable:
    def __init__(self, hasher):
        self._hash = hasher

    def update(self, data):
        self._hash.update(data)

    def text(self):
        return binascii.hexlify(self._hash.digest()).decode()


class _Crc32:
    def __init__(self):
        self._value = 0

    def update(self, data):
        self._value = binascii.crc32(data, self._value)

    def text(self):
        # Guava's bytes: the 32-bit value little-endian.
        return binascii.hexlify(struct.pack("<I", self._value & 0xFFFFFFFF)).decode()


def _native(name):
    return getattr(hashlib, name, None)


def new_digest(algorithm):
    """A digest with update(data) and text(); ValueError for an unknown algorithm."""
    algorithm = algorithm.upper()
    if algorithm == "CRC32":
        return _Crc32()
    if algorithm == "MURMUR3_32":
        from otaclient.digest_murmur3 import Murmur3_32

        return _Portable(Murmur3_32())
    if algorithm == "MURMUR3_128":
        from otaclient.digest_murmur3 import Murmur3_128

        return _Portable(Murmur3_128())
    if algorithm not in ALGORITHMS:
        raise ValueError("unknown checksum algorithm " + algorithm)
    native = _native(algorithm.lower())
    if native is not None:
        return _Hashlib(native)
    # Imported only when needed: a device that never sees MD5 never loads its code.
    if algorithm == "MD5":
        from otaclient.digest_md5 import MD5

        return _Portable(MD5())
    from otaclient.digest_sha512 import SHA384, SHA512

    return _Portable(SHA512() if algorithm == "SHA512" else SHA384())


def checksum_of(algorithm, data):
    digest = new_digest(algorithm)
    digest.update(data)
    return digest.text()
