"""Deliberate faults, for proving that a conformance suite notices them. Never in production.

`OTAKIT_INJECT_FAULTS` names faults to switch on at start; each breaks one rule of the spec, at
one place in the code that asks `active(...)`. With the setting empty (the default) every check
is a set lookup that finds nothing.
"""

from __future__ import annotations

from enum import StrEnum


class Fault(StrEnum):
    CRC32_BIG_ENDIAN = "crc32_big_endian"  # §5: CRC32 text in the wrong byte order
    CHUNK_INDEX_AS_OFFSET = "chunk_index_as_offset"  # §6: chunk index read as a byte offset
    NO_DELETED_PUSH = "no_deleted_push"  # §2.1: unassignment does not tell the device
    PROFILE_OVERRIDES_DEVICE = "profile_overrides_device"  # §4.1: profile wins over device
    PACK_SIZE_EXCEEDED = "pack_size_exceeded"  # §4.3: twice the pack size per interval
    NO_EMPTY_PAST_END = "no_empty_past_end"  # §6: past the end, the last chunk again
    TITLE_NOT_CHECKED = "title_not_checked"  # §6.3: HTTP accepts another title/version
    WRONG_CHECKSUM_ACCEPTED = "wrong_checksum_accepted"  # §4.5: a mismatching checksum passes
    TITLE_EDITABLE = "title_editable"  # §4.5: a package's title can be changed
    NO_QUEUED_TELEMETRY = "no_queued_telemetry"  # §2.2: no QUEUED/target_* at assignment
    BAD_TOKEN_ACCEPTED = "bad_token_accepted"  # §6.2: MQTT accepts an unknown token
    OTHER_TENANT_VISIBLE = "other_tenant_visible"  # §7: another tenant's package readable
    SIZE_AS_TEXT = "size_as_text"  # §2.1: fw_size pushed as a string
    CHECKSUM_UNPADDED = "checksum_unpadded"  # §5: 32-bit texts lose their leading zeros
    STALE_NOT_SKIPPED = "stale_not_skipped"  # §4.4: a stale queue record notifies anyway
    REQUEUED_UNCHANGED = "requeued_unchanged"  # §4.2: saving a device queues it again
    SIZE_NOT_REUSED = "size_not_reused"  # §6.2: an empty chunk request asks for the whole file
    REQUEST_NOT_PINNED = "request_not_pinned"  # §6.2: a request id follows a new assignment
    STALE_KEYS_KEPT = "stale_keys_kept"  # §2.1: keys the new package lacks are left behind


_active: set[Fault] = set()


def enable(names: set[str]) -> None:
    _active.clear()
    _active.update(Fault(name) for name in names)


def active(fault: Fault) -> bool:
    return fault in _active


def any_active() -> bool:
    return bool(_active)
