"""SHA-512 and SHA-384 in plain Python, for MicroPython builds without them (FIPS 180-4).

The round constants are computed, not written out: the first 64 bits of the fractional parts of
the cube roots (square roots for the initial values) of the first primes, with integer roots.
"""

import struct

_MASK = 0xFFFFFFFFFFFFFFFF
_constants = {}


def _primes(count):
    found, n = [], 2
    while len(found) < count:
        if all(n % p for p in found if p * p <= n):
            found.append(n)
        n += 1
    return found


def _iroot(n, k):
    """floor(n ** (1/k)) for big integers, by Newton's method."""
    x = 1 << ((len(bin(n)) - 2 + k - 1) // k)  # MicroPython's int has no bit_length()
    while True:
        y = ((k - 1) * x + n // x ** (k - 1)) // k
        if y >= x:
            return x
        x = y


def _fraction_bits(p, k):
    return _iroot(p << (64 * k), k) & _MASK


def _table():
    if not _constants:
        primes = _primes(80)
        _constants["k"] = tuple(_fraction_bits(p, 3) for p in primes)
        _constants["sha512"] = tuple(_fraction_bits(p, 2) for p in primes[:8])
        _constants["sha384"] = tuple(_fraction_bits(p, 2) for p in primes[8:16])
    return _constants


def _rotr(x, n):
    return ((x >> n) | (x << (64 - n))) & _MASK


class SHA512:
    digest_size = 64
    _initial = "sha512"

    def __init__(self):
        table = _table()
        self._k = table["k"]
        self._h = list(table[self._initial])
        self._buffer = b""
        self._length = 0

    def update(self, data):
        self._length += len(data)
        data = self._buffer + bytes(data)
        usable = len(data) - len(data) % 128
        for offset in range(0, usable, 128):
            self._block(data[offset : offset + 128])
        self._buffer = data[usable:]

    def _block(self, block):
        w = list(struct.unpack(">16Q", block))
        for t in range(16, 80):
            s0 = _rotr(w[t - 15], 1) ^ _rotr(w[t - 15], 8) ^ (w[t - 15] >> 7)
            s1 = _rotr(w[t - 2], 19) ^ _rotr(w[t - 2], 61) ^ (w[t - 2] >> 6)
            w.append((w[t - 16] + s0 + w[t - 7] + s1) & _MASK)
        a, b, c, d, e, f, g, h = self._h
        k = self._k
        for t in range(80):
            t1 = (
                h
                + (_rotr(e, 14) ^ _rotr(e, 18) ^ _rotr(e, 41))
                + ((e & f) ^ (~e & g))
                + k[t]
                + w[t]
            ) & _MASK
            t2 = (_rotr(a, 28) ^ _rotr(a, 34) ^ _rotr(a, 39)) + ((a & b) ^ (a & c) ^ (b & c))
            h, g, f, e, d, c, b, a = g, f, e, (d + t1) & _MASK, c, b, a, (t1 + t2) & _MASK
        self._h = [(x + y) & _MASK for x, y in zip(self._h, (a, b, c, d, e, f, g, h))]

    def digest(self):
        saved = (list(self._h), self._buffer, self._length)
        length = self._length
        padding = b"\x80" + b"\x00" * ((111 - length) % 128)
        self.update(padding + struct.pack(">QQ", 0, length * 8))
        result = struct.pack(">8Q", *self._h)[: self.digest_size]
        self._h, self._buffer, self._length = saved
        return result


class SHA384(SHA512):
    digest_size = 48
    _initial = "sha384"
