"""The client's digests: the fastest implementation each platform has, the same text from all.

On CPython Murmur3 goes through mmh3's hashers and MD5/SHA through hashlib; the portable code
(forced with portable=True) must give the same text. On real MicroPython (its WebAssembly port)
the portable code fills in what the platform lacks, and a `hashlib` package such as
micropython-lib's hashlib-sha384/-sha512 is taken when installed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import random
import shutil
import subprocess
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import mmh3
import pytest
from otaclient import checksums, digest_md5, digest_murmur3, digest_sha512
from otaconformance.reference import ALGORITHMS, checksum_text

HERE = Path(__file__).parent / "micropython"
CLIENT = Path(__file__).parents[2] / "client" / "otaclient"
# Around every block size (4 and 16 for Murmur3, 64 for MD5, 128 for SHA-384/512) and beyond.
SIZES = (0, 1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 111, 112, 113, 127, 128)
SIZES += (129, 239, 240, 255, 256, 257, 1000, 4097, 65537)
FAST = {
    "MD5": "hashlib",
    "SHA256": "hashlib",
    "SHA384": "hashlib",
    "SHA512": "hashlib",
    "CRC32": "binascii",
    "MURMUR3_32": "mmh3",
    "MURMUR3_128": "mmh3",
}


def random_splits(rng: random.Random, size: int) -> list[int]:
    """Up to four split points, in order, repeats allowed (an empty update is a valid call)."""
    return sorted(rng.randint(0, size) for _ in range(rng.randint(0, 4)))


def cases(seed: int, sizes: tuple[int, ...]) -> list[dict[str, Any]]:
    """Random data of each size for each algorithm, split at random points, with its text."""
    rng = random.Random(seed)
    found = []
    for algorithm in ALGORITHMS:
        for size in sizes:
            data = rng.randbytes(size)
            text = checksum_text(algorithm, data)
            # Random split points, and for short data one byte at a time.
            splits = [random_splits(rng, size)] + ([list(range(1, size))] if size <= 40 else [])
            for split in splits:
                found.append({"algorithm": algorithm, "data": data, "splits": split, "text": text})
    return found


def pieces(data: bytes, splits: list[int]) -> Iterator[bytes]:
    start = 0
    for end in [*splits, len(data)]:
        yield data[start:end]
        start = end


def text_in_pieces(
    module: Any, algorithm: str, data: bytes, splits: list[int], portable: bool
) -> str:
    digest = module.new_digest(algorithm, portable)
    for piece in pieces(data, splits):
        digest.update(piece)
    return str(digest.text())


CASES = cases(20240612, SIZES)


@pytest.mark.parametrize("portable", [False, True], ids=["fast", "portable"])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_same_text_as_hashlib_and_mmh3(algorithm: str, portable: bool) -> None:
    for case in (c for c in CASES if c["algorithm"] == algorithm):
        got = text_in_pieces(checksums, algorithm, case["data"], case["splits"], portable)
        assert got == case["text"], (len(case["data"]), case["splits"])


def test_checksum_of_and_lower_case_names() -> None:
    data = b"123456789"
    assert checksums.checksum_of("CRC32", data) == "2639f4cb"  # spec §5's example
    for algorithm in ALGORITHMS:
        assert checksums.checksum_of(algorithm.lower(), data) == checksum_text(algorithm, data)
    with pytest.raises(ValueError):
        checksums.new_digest("SHA1")
    with pytest.raises(ValueError):
        checksums.backend("SHA1")


def spy(made: list[str], name: str, factory: Callable[[], Any]) -> Callable[[], Any]:
    def make() -> Any:
        made.append(name)
        return factory()

    return make


def test_cpython_takes_mmh3_and_hashlib(monkeypatch: pytest.MonkeyPatch) -> None:
    assert {a: checksums.backend(a) for a in ALGORITHMS} == FAST
    made: list[str] = []
    for name in ("mmh3_32", "mmh3_x64_128"):
        monkeypatch.setattr(mmh3, name, spy(made, name, getattr(mmh3, name)))
    for name in ("md5", "sha256", "sha384", "sha512"):
        monkeypatch.setattr(hashlib, name, spy(made, name, getattr(hashlib, name)))
    for algorithm in ALGORITHMS:
        assert checksums.checksum_of(algorithm, b"abc") == checksum_text(algorithm, b"abc")
    assert made == ["md5", "sha256", "sha384", "sha512", "mmh3_32", "mmh3_x64_128"]


def test_portable_forced_takes_the_portable_code(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[str] = []
    for module, name in (
        (digest_md5, "MD5"),
        (digest_sha512, "SHA384"),
        (digest_sha512, "SHA512"),
        (digest_murmur3, "Murmur3_32"),
        (digest_murmur3, "Murmur3_128"),
    ):
        monkeypatch.setattr(module, name, spy(made, name, getattr(module, name)))
    for name in ("mmh3_32", "mmh3_x64_128"):
        monkeypatch.setattr(mmh3, name, spy(made, name, getattr(mmh3, name)))
    for algorithm in ALGORITHMS:
        assert text_in_pieces(checksums, algorithm, b"abc", [1], True) == checksum_text(
            algorithm, b"abc"
        )
    # SHA256 and CRC32 have no portable code: every platform has them.
    assert made == ["MD5", "SHA384", "SHA512", "Murmur3_32", "Murmur3_128"]


def fresh_checksums(mmh3_module: types.ModuleType | None, monkeypatch: pytest.MonkeyPatch) -> Any:
    """checksums.py imported anew, as a separate module, with `import mmh3` giving mmh3_module."""
    monkeypatch.setitem(sys.modules, "mmh3", mmh3_module)  # None: ImportError, as on MicroPython
    spec = importlib.util.spec_from_file_location("fresh_checksums", CLIENT / "checksums.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("missing", ["no mmh3", "mmh3 before 4.0"])
def test_murmur3_falls_back_to_the_portable_code(
    missing: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = types.ModuleType("mmh3")  # one-shot functions only, no incremental hashers
    old.hash, old.hash_bytes = mmh3.hash, mmh3.hash_bytes  # type: ignore[attr-defined]
    module = fresh_checksums(None if missing == "no mmh3" else old, monkeypatch)
    assert module.backend("MURMUR3_32") == module.backend("MURMUR3_128") == "portable"
    assert module.backend("SHA512") == "hashlib"
    for case in (
        c for c in CASES if c["algorithm"].startswith("MURMUR3") and len(c["data"]) < 5000
    ):
        got = text_in_pieces(module, case["algorithm"], case["data"], case["splits"], False)
        assert got == case["text"], (case["algorithm"], len(case["data"]), case["splits"])


def test_digests_on_micropython(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None or not (HERE / "node_modules").exists():
        pytest.fail(
            "needs node and `npm ci` in tests/client/micropython (scripts/test.sh does both)"
        )
    # Smaller sizes: the portable SHA-512 is slow on the WebAssembly port.
    small = [dict(c, data=c["data"].hex()) for c in cases(7, SIZES[:-2])]
    data = tmp_path / "digests.json"
    data.write_text(json.dumps(small))
    result = subprocess.run(
        [node, str(HERE / "run.mjs"), str(CLIENT), str(HERE / "digest_checks.py"), str(data)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "DIGESTS OK" in result.stdout
