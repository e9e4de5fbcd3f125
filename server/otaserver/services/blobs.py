"""Deleting package data once no package refers to it any more."""

from __future__ import annotations

from collections.abc import Iterable

from .ports import BlobStore, Storage


async def release_blobs(storage: Storage, blobs: BlobStore, keys: Iterable[str | None]) -> None:
    """Deletes the blobs among `keys` that no package uses (content addressing shares them)."""
    for key in {k for k in keys if k}:
        async with storage.reading() as repos:
            in_use = await repos.packages.count_blob_users(key)
        if not in_use:
            await blobs.delete(key)
