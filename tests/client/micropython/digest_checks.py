# Which digest implementation the client core picks on MicroPython, and that each gives
# ThingsBoard's text when fed in pieces. Run by tests/client/test_digests.py through run.mjs,
# with /data/digests.json; raises AssertionError on the first failure, else prints "DIGESTS OK".

import binascii
import json
import sys

# What a board gets from `mip install hashlib-sha384 hashlib-sha512` (micropython-lib, not copied
# here): a `hashlib` package that re-exports the built-in module and adds sha384 and sha512 in
# Python. This stand-in has the same shape; its classes count their instances, so the check
# below can tell that checksums.py took them.
STAND_IN = """
from uhashlib import *
from otaclient.digest_sha512 import SHA384 as _SHA384, SHA512 as _SHA512


class sha512(_SHA512):
    made = 0

    def __init__(self):
        sha512.made += 1
        _SHA512.__init__(self)


class sha384(_SHA384):
    made = 0

    def __init__(self):
        sha384.made += 1
        _SHA384.__init__(self)
"""


def pieces(data, splits):
    start = 0
    for end in splits + [len(data)]:
        yield data[start:end]
        start = end


def check_cases(checksums, cases, portable):
    for case in cases:
        data = binascii.unhexlify(case["data"])
        digest = checksums.new_digest(case["algorithm"], portable)
        for piece in pieces(data, case["splits"]):
            digest.update(piece)
        got = digest.text()
        assert got == case["text"], (case["algorithm"], len(data), case["splits"], portable, got)


def check_micropython_backends(checksums):
    """What MicroPython (no mmh3, a small hashlib) uses before any package is installed."""
    import uhashlib

    expected = {
        "MD5": "hashlib" if hasattr(uhashlib, "md5") else "portable",
        "SHA256": "hashlib",
        "SHA384": "portable",
        "SHA512": "portable",
        "CRC32": "binascii",
        "MURMUR3_32": "portable",
        "MURMUR3_128": "portable",
    }
    for algorithm in checksums.ALGORITHMS:
        assert checksums.backend(algorithm) == expected[algorithm], (algorithm, expected)


def check_with_micropython_lib(cases):
    """Installs the stand-in `hashlib` package in /lib and imports checksums afresh."""
    import os

    os.mkdir("/lib/hashlib")
    with open("/lib/hashlib/__init__.py", "w") as file:
        file.write(STAND_IN)
    import otaclient

    # A built-in module is not in sys.modules; the package's submodule is also its attribute.
    del sys.modules["otaclient.checksums"], otaclient.checksums
    import hashlib

    from otaclient import checksums

    assert checksums.backend("SHA384") == "hashlib"
    assert checksums.backend("SHA512") == "hashlib"
    long = [c for c in cases if c["algorithm"] in ("SHA384", "SHA512")]
    check_cases(checksums, long, False)
    count = len([c for c in long if c["algorithm"] == "SHA512"])
    assert hashlib.sha512.made == count, (hashlib.sha512.made, count)
    assert hashlib.sha384.made == len(long) - count, (hashlib.sha384.made, len(long) - count)


def main(cases):
    from otaclient import checksums

    check_cases(checksums, cases, False)
    check_cases(checksums, cases, True)
    check_micropython_backends(checksums)
    check_with_micropython_lib(cases)
    print("DIGESTS OK")


if sys.implementation.name == "micropython":
    with open("/data/digests.json") as file:
        main(json.load(file))
