"""Chunk reads from the blob store: otakit's one-trip read next to anyio's async file.

Every device chunk (MQTT, HTTP with `size`/`chunk`, a CoAP block) is one `FileBlobStore.read` of a
small range. The baseline reads the same ranges the obvious async way, with `anyio.open_file`,
which makes a trip to a worker thread for the open, the seek, the read and the close.

    python -m benchmarks.blob_reads [--chunk-kib 1 64] [--count 2000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio

from otaserver.blobs.filestore import FileBlobStore

Reader = Callable[[int, int], Awaitable[bytes]]


async def best_rate(read: Reader, size: int, chunk: int, count: int, repeats: int) -> float:
    """Chunks per second, the best of `repeats` runs of `count` chunk reads in file order."""
    best = 0.0
    for _ in range(repeats):
        began = time.perf_counter()
        for n in range(count):
            start = (n * chunk) % (size - chunk)
            assert len(await read(start, start + chunk)) == chunk
        best = max(best, count / (time.perf_counter() - began))
    return best


async def compare(chunk: int, count: int, repeats: int) -> None:
    with tempfile.TemporaryDirectory() as root:
        data = os.urandom(8 * 1024 * 1024)
        sha256 = hashlib.sha256(data).hexdigest()
        store = FileBlobStore(Path(root))
        path = store.path_of(sha256)
        path.parent.mkdir(parents=True)
        path.write_bytes(data)

        async def otakit(start: int, end: int) -> bytes:
            return b"".join([piece async for piece in store.read(sha256, start, end)])

        async def baseline(start: int, end: int) -> bytes:
            async with await anyio.open_file(path, "rb") as file:
                await file.seek(start)
                return await file.read(end - start)

        readers = {"otakit": otakit, "baseline": baseline}
        await baseline(0, len(data))  # into the page cache
        rates = {
            name: await best_rate(read, len(data), chunk, count, repeats)
            for name, read in readers.items()
        }
        print(f"{chunk // 1024} KiB chunks, {count} reads, best of {repeats}")
        for name, rate in rates.items():
            print(f"  {name:9} {rate:9.0f} chunks/s  {rate * chunk / 2**20:8.1f} MiB/s")
        print(f"  otakit/baseline {rates['otakit'] / rates['baseline']:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunk-kib", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    for chunk_kib in args.chunk_kib:
        anyio.run(compare, chunk_kib * 1024, args.count, args.repeats)


if __name__ == "__main__":
    main()
