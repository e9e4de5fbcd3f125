"""Incremental checksums for the seven algorithms, with ThingsBoard's text (spec §5).

Each algorithm uses the fastest implementation the platform has, chosen when this module is
imported (backend() tells which):

- MD5, SHA256, SHA384, SHA512: the platform's `hashlib`. CPython's has all four. MicroPython's
  built-in one has SHA256 (some ports MD5 too); micropython-lib's `hashlib-sha384` and
  `hashlib-sha512` packages (client/manifest.py) replace `import hashlib` with a package that
  adds them, so they are found here as `hashlib.sha384` and `hashlib.sha512`.
- CRC32: `binascii.crc32`, everywhere.
- MURMUR3_32, MURMUR3_128: the C hashers of `mmh3` (CPython; a main dependency of otakit).
- Whatever is still missing: small portable code (digest_md5.py, digest_sha512.py,
  digest_murmur3.py), imported only when a package uses that algorithm.
"""

import binascii
import hashlib
import struct

try:
    import mmh3
except ImportError:  # MicroPython: no such module
    mmh3 = None

ALGORITHMS = ("MD5", "SHA256", "SHA384", "SHA512", "CRC32", "MURMUR3_32", "MURMUR3_128")

# mmh3's incremental hashers came with its 4.0. An older mmh3 hashes only a whole buffer, which
# would hold the image in memory, so Murmur3 then stays with the portable code.
_MMH3 = mmh3 is not None and hasattr(mmh3, "mmh3_32") and hasattr(mmh3, "mmh3_x64_128")


class _Digest:
    """Any hasher with update() and digest() (bytes in the order spec §5 prints)."""

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


def _check(algorithm):
    algorithm = algorithm.upper()
    if algorithm not in ALGORITHMS:
        raise ValueError("unknown checksum algorithm " + algorithm)
    return algorithm


def _native(algorithm):
    """The platform's own hasher class for algorithm, or None (CRC32 is handled apart)."""
    if algorithm == "MURMUR3_32":
        # Its digest() is the 32-bit value little-endian, as Guava's bytes.
        return mmh3.mmh3_32 if _MMH3 else None
    if algorithm == "MURMUR3_128":
        # Its digest() is h1 then h2, each little-endian, as Guava's bytes.
        return mmh3.mmh3_x64_128 if _MMH3 else None
    return getattr(hashlib, algorithm.lower(), None)


def backend(algorithm):
    """What new_digest(algorithm) uses here: "hashlib", "binascii", "mmh3" or "portable"."""
    algorithm = _check(algorithm)
    if algorithm == "CRC32":
        return "binascii"
    if _native(algorithm) is None:
        return "portable"
    return "mmh3" if algorithm.startswith("MURMUR3") else "hashlib"


def new_digest(algorithm, portable=False):
    """A digest with update(data) and text(); ValueError for an unknown algorithm.

    portable=True takes the portable code even where the platform has its own (for tests and
    benchmarks); SHA256 and CRC32 have no portable code and always use the platform's.
    """
    algorithm = _check(algorithm)
    if algorithm == "CRC32":
        return _Crc32()
    native = None if portable and algorithm != "SHA256" else _native(algorithm)
    if native is not None:
        return _Digest(native())
    # Imported only when needed: a device that never sees MD5 never loads its code.
    if algorithm == "MD5":
        from otaclient.digest_md5 import MD5

        return _Digest(MD5())
    if algorithm == "MURMUR3_32":
        from otaclient.digest_murmur3 import Murmur3_32

        return _Digest(Murmur3_32())
    if algorithm == "MURMUR3_128":
        from otaclient.digest_murmur3 import Murmur3_128

        return _Digest(Murmur3_128())
    if algorithm == "SHA256":
        raise ValueError("this platform's hashlib has no SHA256")
    from otaclient.digest_sha512 import SHA384, SHA512

    return _Digest(SHA512() if algorithm == "SHA512" else SHA384())


def checksum_of(algorithm, data):
    digest = new_digest(algorithm)
    digest.update(data)
    return digest.text()
