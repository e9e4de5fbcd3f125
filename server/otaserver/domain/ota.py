"""The OTA attribute and telemetry keys of spec §1 and §2, and chunk arithmetic."""

from __future__ import annotations

from . import faults
from .enums import OtaPackageType
from .faults import Fault
from .model import OtaPackage

# Shared-attribute suffixes: `fw_title`, `sw_checksum`, ...
KEY_SUFFIXES = (
    "title",
    "version",
    "ts",
    "state",
    "size",
    "checksum",
    "checksum_algorithm",
    "url",
    "tag",
)


def attribute_key(package_type: OtaPackageType, suffix: str) -> str:
    return f"{package_type.key_prefix}_{suffix}"


def shared_attributes(package: OtaPackage) -> dict[str, object]:
    """The shared attributes that announce a package to its devices (spec §2.1)."""
    prefix = package.type.key_prefix
    values: dict[str, object] = {
        f"{prefix}_title": package.title,
        f"{prefix}_version": package.version,
    }
    if package.tag:
        values[f"{prefix}_tag"] = package.tag
    if package.data_size is not None:
        size_as_text = faults.active(Fault.SIZE_AS_TEXT)
        values[f"{prefix}_size"] = str(package.data_size) if size_as_text else package.data_size
    if package.checksum_algorithm is not None:
        values[f"{prefix}_checksum_algorithm"] = package.checksum_algorithm.value
    if package.checksum is not None:
        values[f"{prefix}_checksum"] = package.checksum
    if package.url:
        values[f"{prefix}_url"] = package.url
    return values


def chunk_range(size: int, chunk_size: int, index: int) -> tuple[int, int]:
    """The byte range [start, end) of chunk `index` of `chunk_size` in data of `size` bytes.

    A chunk size of 0 means the whole file. Past the end the range is empty.
    """
    if chunk_size <= 0:
        return 0, size
    start = min(index if faults.active(Fault.CHUNK_INDEX_AS_OFFSET) else chunk_size * index, size)
    if start >= size and size and faults.active(Fault.NO_EMPTY_PAST_END):
        start = max(0, size - chunk_size)
    return start, min(start + chunk_size, size)
