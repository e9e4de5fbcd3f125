"""Spec §2.2, §4.2 to §4.4 and the user guide's Assignment: what queues a device, what the queue
writes, and at what pace."""

from otaconformance.rules import KIND_TYPES, Rule

RULES = (
    Rule(
        "queue.on-create",
        "§4.2",
        "a device created with an effective package (its own or its profile's) is queued at once",
        KIND_TYPES,
    ),
    Rule(
        "queue.on-change",
        "§4.2",
        "a device saved with another effective package (assigned, reassigned, or moved to a "
        "profile with another package) is queued for it",
        KIND_TYPES,
    ),
    Rule(
        "queue.unchanged-not-queued",
        "§4.2",
        "a device saved with the same effective package is not queued again",
        KIND_TYPES,
    ),
    Rule(
        "queue.profile-followers",
        "§4.2",
        "a profile saved with another package queues its devices without their own, and only them",
        KIND_TYPES,
    ),
    Rule(
        "queue.removed-when-none",
        "§4.2",
        "a device whose effective package becomes none (own cleared without a profile's, moved "
        "to a profile without one, its profile's cleared) loses the shared keys and is not queued; "
        "devices with their own keep theirs",
        KIND_TYPES,
    ),
    Rule(
        "queue.queued-telemetry",
        "§2.2",
        "queuing writes fw_state=QUEUED, target_fw_title, target_fw_version and target_fw_ts "
        "(equal to it) at one ts, the assignment time",
        KIND_TYPES,
    ),
    Rule(
        "queue.target-tag",
        "§2.2",
        "target_fw_tag is written at QUEUED only when the package's tag is non-empty",
        KIND_TYPES,
    ),
    Rule(
        "queue.initiated-once",
        "§4.4",
        "the queue writes fw_state=INITIATED once per queued record, after QUEUED",
        KIND_TYPES,
    ),
    Rule(
        "queue.attributes-announced",
        "§4.4",
        "at INITIATED the shared attributes announce the package (the §2.1 keys, fw_size a JSON "
        "number), with the assignment time as their timestamp",
        KIND_TYPES,
    ),
    Rule(
        "queue.stale-skipped",
        "§4.4",
        "a queued record whose package is no longer the device's effective one is skipped: no "
        "INITIATED, no attributes",
        KIND_TYPES,
    ),
    Rule(
        "queue.deleted-device-skipped",
        "§4.4",
        "a queued record of a deleted device is skipped, and the records after it are processed",
        KIND_TYPES,
    ),
    Rule(
        "queue.pace",
        "§4.3, guide: Configuration",
        "the queue notifies at most pack-size devices per pack interval",
        KIND_TYPES,
    ),
    Rule(
        "queue.already-on-target",
        "guide: Assignment",
        "a device already on the package (current_fw_title and current_fw_version) is not "
        "notified: nothing is queued for it (an otakit extension)",
        KIND_TYPES,
    ),
    Rule(
        "queue.reported-since-skipped",
        "§4.4 (otakit extension)",
        "a queued record of a device that has reported a state of that package since it was "
        "queued writes no INITIATED, which would undo the device's own report; its shared "
        "attributes still come to announce the package",
        KIND_TYPES,
    ),
)
