"""MurmurHash3 (x86_32 and x64_128, seed 0), incremental, as Guava computes them."""

import struct

_M32 = 0xFFFFFFFF
_M64 = 0xFFFFFFFFFFFFFFFF


def _rotl32(x, r):
    return ((x << r) | (x >> (32 - r))) & _M32


def _rotl64(x, r):
    return ((x << r) | (x >> (64 - r))) & _M64


def _fmix32(h):
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _M32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _M32
    return h ^ (h >> 16)


def _fmix64(k):
    k ^= k >> 33
    k = (k * 0xFF51AFD7ED558CCD) & _M64
    k ^= k >> 33
    k = (k * 0xC4CEB9FE1A85EC53) & _M64
    return k ^ (k >> 33)


class Murmur3_32:
    _C1, _C2 = 0xCC9E2D51, 0x1B873593

    def __init__(self):
        self._h = 0
        self._buffer = b""
        self._length = 0

    def update(self, data):
        self._length += len(data)
        data = self._buffer + bytes(data)
        usable = len(data) - len(data) % 4
        h = self._h
        for (k,) in (struct.unpack_from("<I", data, i) for i in range(0, usable, 4)):
            k = (_rotl32((k * self._C1) & _M32, 15) * self._C2) & _M32
            h = (_rotl32(h ^ k, 13) * 5 + 0xE6546B64) & _M32
        self._h, self._buffer = h, data[usable:]

    def digest(self):
        h, tail = self._h, self._buffer
        if tail:
            k = int.from_bytes(tail, "little")
            h ^= (_rotl32((k * self._C1) & _M32, 15) * self._C2) & _M32
        return struct.pack("<I", _fmix32(h ^ (self._length & _M32)))


class Murmur3_128:
    _C1, _C2 = 0x87C37B91114253D5, 0x4CF5AD432745937F

    def __init__(self):
        self._h1 = self._h2 = 0
        self._buffer = b""
        self._length = 0

    def update(self, data):
        self._length += len(data)
        data = self._buffer + bytes(data)
        usable = len(data) - len(data) % 16
        h1, h2, c1, c2 = self._h1, self._h2, self._C1, self._C2
        for i in range(0, usable, 16):
            k1, k2 = struct.unpack_from("<QQ", data, i)
            h1 ^= (_rotl64((k1 * c1) & _M64, 31) * c2) & _M64
            h1 = ((_rotl64(h1, 27) + h2) * 5 + 0x52DCE729) & _M64
            h2 ^= (_rotl64((k2 * c2) & _M64, 33) * c1) & _M64
            h2 = ((_rotl64(h2, 31) + h1) * 5 + 0x38495AB5) & _M64
        self._h1, self._h2, self._buffer = h1, h2, data[usable:]

    def digest(self):
        h1, h2, c1, c2, tail = self._h1, self._h2, self._C1, self._C2, self._buffer
        if len(tail) > 8:
            k2 = int.from_bytes(tail[8:], "little")
            h2 ^= (_rotl64((k2 * c2) & _M64, 33) * c1) & _M64
        if tail:
            k1 = int.from_bytes(tail[:8], "little")
            h1 ^= (_rotl64((k1 * c1) & _M64, 31) * c2) & _M64
        h1 ^= self._length
        h2 ^= self._length
        h1 = (h1 + h2) & _M64
        h2 = (h2 + h1) & _M64
        h1, h2 = _fmix64(h1), _fmix64(h2)
        h1 = (h1 + h2) & _M64
        h2 = (h2 + h1) & _M64
        return struct.pack("<QQ", h1, h2)
