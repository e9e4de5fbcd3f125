"""The device client's digests on CPython: what checksums.py picks next to the portable code.

A simulated fleet verifies every image it downloads with `otaclient.checksums`, so each device
update costs one digest of the image. For each of ThingsBoard's seven algorithms this prints
MiB/s of the implementation checksums.py picks here (hashlib, binascii, mmh3) and of the
portable pure-Python code that MicroPython falls back on (`new_digest(..., portable=True)`),
their ratio, and the CPU time of the picked one for a 256 KiB image. Both are fed the same
random data in chunks, and must give the same text.

    python -m benchmarks.client_digests [--size-mib 8] [--portable-mib 1] [--chunk-kib 16]
"""

from __future__ import annotations

import argparse
import random
import time

from otaclient import checksums


def best_rate(
    algorithm: str, portable: bool, data: bytes, chunk: int, repeats: int
) -> tuple[float, str]:
    """MiB/s, the best of `repeats` runs over data, fed chunk by chunk; and the text."""
    best, text = 0.0, ""
    for _ in range(repeats):
        began = time.process_time()
        digest = checksums.new_digest(algorithm, portable)
        for start in range(0, len(data), chunk):
            digest.update(data[start : start + chunk])
        text = digest.text()
        elapsed = max(time.process_time() - began, 1e-9)
        best = max(best, len(data) / elapsed / 2**20)
    return best, text


def row(*cells: str) -> str:
    widths = (-12, -9, 10, 15, 16, 13)
    return " ".join(
        f"{cell:{'<' if w < 0 else '>'}{abs(w)}}" for cell, w in zip(cells, widths, strict=True)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=float, default=8.0, help="data for the picked code")
    parser.add_argument("--portable-mib", type=float, default=1.0, help="data for portable code")
    parser.add_argument("--chunk-kib", type=int, default=16, help="bytes per update() call")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = random.Random(0)
    data = rng.randbytes(int(args.size_mib * 2**20))
    small = data[: int(args.portable_mib * 2**20)]
    chunk = args.chunk_kib * 1024
    print(
        f"{args.size_mib:g} MiB (portable: {args.portable_mib:g} MiB), {args.chunk_kib} KiB chunks"
    )
    print(row("algorithm", "picked", "MiB/s", "portable MiB/s", "picked/portable", "ms / 256 KiB"))
    for algorithm in checksums.ALGORITHMS:
        fast, _ = best_rate(algorithm, False, data, chunk, args.repeats)
        picked = checksums.backend(algorithm)
        per_image = f"{1000 * 0.25 / fast:.3f}"
        if algorithm in ("SHA256", "CRC32"):
            # No portable code: every platform, MicroPython included, has these two.
            print(row(algorithm, picked, f"{fast:.1f}", "-", "-", per_image))
            continue
        slow, text = best_rate(algorithm, True, small, chunk, 1)
        _, expected = best_rate(algorithm, False, small, chunk, 1)
        if text != expected:
            raise SystemExit(f"{algorithm}: portable {text} != picked {expected}")
        ratio = f"{fast / slow:.0f}x"
        print(row(algorithm, picked, f"{fast:.1f}", f"{slow:.2f}", ratio, per_image))


if __name__ == "__main__":
    main()
