"""The runner's store interface: the simulator's MemoryStore and `otakit device`'s FileStore
answer the same calls alike, so one runner can carry either."""

from __future__ import annotations

from pathlib import Path

import pytest
from otaclient.store_file import FileStore
from otasim.device import MemoryStore, Store

IMAGE = bytes(range(256)) * 40


def stores(tmp_path: Path) -> list[Store]:
    return [MemoryStore(keep=True), FileStore(str(tmp_path))]


@pytest.mark.parametrize("which", [0, 1], ids=["memory", "file"])
def test_a_store_keeps_chunks_and_progress_until_discarded(tmp_path: Path, which: int) -> None:
    store = stores(tmp_path)[which]
    assert store.load_progress() is None
    for offset in range(0, len(IMAGE), 4096):
        store.write(offset, IMAGE[offset : offset + 4096])
    store.save_progress({"received": len(IMAGE)})
    assert store.load_progress() == {"received": len(IMAGE)}
    assert store.read(0, 100) + store.read(100, len(IMAGE)) == IMAGE
    store.save_progress(None)
    store.discard()
    assert store.load_progress() is None
    store.write(0, b"new")
    assert store.read(0, 10) == b"new"
