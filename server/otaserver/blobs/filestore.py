"""A content-addressed blob store: files named by their SHA-256 under two levels of folders.

Data arrives as a stream and is written in fixed-size pieces to a temporary file beside its final
place, hashed on the way; only a commit renames it into place, atomically. Anything that goes
wrong before the commit (too large, wrong checksum, a client that disconnects) leaves nothing.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import BinaryIO

import anyio
import anyio.to_thread

from ..domain.enums import ChecksumAlgorithm
from ..domain.errors import InsufficientStorage
from ..services.ports import BlobMissing, BlobTooLarge, StagedBlob
from .digests import Digest, new_digest

READ_SIZE = 256 * 1024
MAX_PATHS_KEPT = 10_000
_NOWAIT: int | None = getattr(os, "RWF_NOWAIT", None)
# A staged file untouched this long belongs to no live upload (an upload writes continually).
STALE_STAGING_SECONDS = 3600


class FileBlobStore:
    def __init__(self, root: Path) -> None:
        self._root = root
        self._paths: dict[str, Path] = {}
        self._staging = root / "staging"
        self._staging.mkdir(parents=True, exist_ok=True)
        # What a crash left half-written is garbage; other processes' live uploads are not.
        horizon = time.time() - STALE_STAGING_SECONDS
        for leftover in self._staging.iterdir():
            with contextlib.suppress(FileNotFoundError):
                if leftover.stat().st_mtime < horizon:
                    leftover.unlink()

    def path_of(self, sha256: str) -> Path:
        # Remembered: every chunk request asks, and pathlib takes longer than the chunk's read.
        path = self._paths.get(sha256)
        if path is None:
            if len(self._paths) >= MAX_PATHS_KEPT:
                self._paths.clear()
            path = self._paths[sha256] = self._root / sha256[:2] / sha256[2:4] / sha256
        return path

    async def stage(
        self,
        chunks: AsyncIterator[bytes],
        algorithms: set[ChecksumAlgorithm],
        max_size: int,
    ) -> StagedBlob:
        digests: dict[ChecksumAlgorithm, Digest] = {
            algorithm: new_digest(algorithm)
            for algorithm in algorithms | {ChecksumAlgorithm.SHA256}
        }
        with _disk_full_is_insufficient_storage():
            descriptor, name = tempfile.mkstemp(dir=self._staging, suffix=".part")
        path = Path(name)
        size = 0
        try:
            with _disk_full_is_insufficient_storage(), os.fdopen(descriptor, "wb") as file:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > max_size:
                        raise BlobTooLarge(f"package data is larger than {max_size} bytes")
                    await anyio.to_thread.run_sync(_write_and_hash, file, chunk, digests)
                await anyio.to_thread.run_sync(_flush, file)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        texts = {algorithm: digest.text() for algorithm, digest in digests.items()}
        return StagedBlob(
            path=path, size=size, sha256=texts[ChecksumAlgorithm.SHA256], checksums=texts
        )

    async def checksum(self, staged: StagedBlob, algorithm: ChecksumAlgorithm) -> str:
        if algorithm in staged.checksums:
            return staged.checksums[algorithm]
        return await anyio.to_thread.run_sync(_checksum_file, staged.path, algorithm)

    async def commit(self, staged: StagedBlob) -> None:
        target = self.path_of(staged.sha256)
        try:
            with _disk_full_is_insufficient_storage():
                await anyio.to_thread.run_sync(_move_into_place, staged.path, target)
        except BaseException:
            staged.path.unlink(missing_ok=True)
            raise

    async def discard(self, staged: StagedBlob) -> None:
        staged.path.unlink(missing_ok=True)

    async def read(self, sha256: str, start: int, end: int) -> AsyncIterator[bytes]:
        if end - start <= READ_SIZE:
            # A device's chunk, most often: straight from the page cache when all of it is
            # there (no waiting on the disk, so no need of a thread), else open, read and close
            # in one trip to a worker thread rather than four (anyio's file makes each call one).
            path = self.path_of(sha256)
            piece = _read_cached(path, start, end)
            if piece is None:
                piece = await anyio.to_thread.run_sync(_read_range, path, start, end)
            if piece:
                yield piece
            return
        try:
            async with await anyio.open_file(self.path_of(sha256), "rb") as file:
                await file.seek(start)
                remaining = end - start
                while remaining > 0:
                    piece = await file.read(min(READ_SIZE, remaining))
                    if not piece:
                        raise BlobMissing(f"blob {sha256} ends before byte {end}")
                    remaining -= len(piece)
                    yield piece
        except FileNotFoundError:
            raise BlobMissing(f"blob {sha256} is gone") from None

    async def delete(self, sha256: str) -> None:
        self.path_of(sha256).unlink(missing_ok=True)


@contextlib.contextmanager
def _disk_full_is_insufficient_storage() -> Iterator[None]:
    try:
        yield
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise InsufficientStorage("the package store") from error
        raise


def _write_and_hash(file: BinaryIO, chunk: bytes, digests: dict[ChecksumAlgorithm, Digest]) -> None:
    file.write(chunk)
    for digest in digests.values():
        digest.update(chunk)


def _flush(file: BinaryIO) -> None:
    file.flush()
    os.fsync(file.fileno())


def _checksum_file(path: Path, algorithm: ChecksumAlgorithm) -> str:
    digest = new_digest(algorithm)
    with path.open("rb") as file:
        while piece := file.read(READ_SIZE):
            digest.update(piece)
    return digest.text()


def _read_cached(path: Path, start: int, end: int) -> bytes | None:
    """The bytes [start, end) if the page cache holds all of them, read without blocking
    (Linux's RWF_NOWAIT); None when they are not all there, or on any other system or error
    (the caller then reads in a worker thread, which also reports a missing blob)."""
    if _NOWAIT is None or end <= start:
        return None
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        buffer = bytearray(end - start)
        read = os.preadv(descriptor, [buffer], start, _NOWAIT)
    except OSError:  # EAGAIN: not all cached; EOPNOTSUPP: a file system without it
        return None
    finally:
        os.close(descriptor)
    return bytes(buffer) if read == end - start else None


def _read_range(path: Path, start: int, end: int) -> bytes:
    try:
        with path.open("rb") as file:
            file.seek(start)
            data = file.read(end - start)
    except FileNotFoundError:
        raise BlobMissing(f"blob {path.name} is gone") from None
    if len(data) < end - start:
        raise BlobMissing(f"blob {path.name} ends before byte {end}")
    return data


def _move_into_place(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        # The same bytes are stored already: content addressing makes this upload a no-op.
        source.unlink(missing_ok=True)
        return
    os.replace(source, target)
    with contextlib.suppress(OSError):
        directory = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
