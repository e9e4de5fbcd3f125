"""Spec §3 and §2.2: the update states, who writes them."""

from otaconformance.rules import KIND_TYPES, Rule

RULES = (
    Rule(
        "state.server-writes-two",
        "§3",
        "the server writes only QUEUED and INITIATED to fw_state: never DOWNLOADING to FAILED, "
        "never a current_* key",
        KIND_TYPES,
    ),
    Rule(
        "state.queued-again",
        "§3",
        "every new assignment writes QUEUED again, a reassignment to an earlier package too",
        KIND_TYPES,
    ),
    Rule(
        "state.reported-kept",
        "§3",
        "fw_state is ordinary telemetry: every state a device reports is kept, in any order, "
        "without a transition check",
        KIND_TYPES,
    ),
)
