"""Reading ranges of a stored blob: every byte once, in order, and a clear error when it is gone."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otaserver.blobs.filestore import READ_SIZE, FileBlobStore
from otaserver.services.ports import BlobMissing

# Large enough for ranges served in one piece and ranges streamed in several.
BLOB = os.urandom(3 * READ_SIZE + 12345)
SHA256 = hashlib.sha256(BLOB).hexdigest()


def stored(root: Path) -> FileBlobStore:
    store = FileBlobStore(root)
    path = store.path_of(SHA256)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(BLOB)
    return store


def read(store: FileBlobStore, start: int, end: int) -> list[bytes]:
    async def collect() -> list[bytes]:
        return [piece async for piece in store.read(SHA256, start, end)]

    return asyncio.run(collect())


@settings(max_examples=60, deadline=None)  # disk and threads: slow on a busy machine
@given(data=st.data())
def test_a_range_reads_exactly_its_bytes(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    store = stored(tmp_path_factory.mktemp("blobs"))
    start = data.draw(st.integers(0, len(BLOB)), label="start")
    end = data.draw(
        st.one_of(
            st.integers(start, min(start + READ_SIZE, len(BLOB))),  # one piece
            st.integers(start, len(BLOB)),  # streamed
        ),
        label="end",
    )
    pieces = read(store, start, end)
    assert b"".join(pieces) == BLOB[start:end]
    assert all(0 < len(piece) <= READ_SIZE for piece in pieces)


@pytest.mark.parametrize("size", [1000, READ_SIZE + 1], ids=["one piece", "streamed"])
def test_a_missing_blob_is_reported_missing(tmp_path: Path, size: int) -> None:
    store = FileBlobStore(tmp_path)
    with pytest.raises(BlobMissing, match="gone"):
        read(store, 0, size)


@pytest.mark.parametrize("size", [1000, READ_SIZE + 1], ids=["one piece", "streamed"])
def test_a_blob_shorter_than_the_range_is_reported_missing(tmp_path: Path, size: int) -> None:
    store = stored(tmp_path)
    store.path_of(SHA256).write_bytes(BLOB[:500])
    with pytest.raises(BlobMissing, match="ends before"):
        read(store, 0, size)
