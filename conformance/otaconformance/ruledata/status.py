"""Spec §3 and §8: the states a device reports, their history and the dashboard."""

from otaconformance.rules import KIND_TYPES, TRANSPORTS, Rule

RULES = (
    Rule(
        "status.history-order",
        "§3",
        "every reported <prefix>_state is kept in the time series, in order, unchecked: IDLE "
        "and any string too",
        KIND_TYPES,
        TRANSPORTS,
    ),
    Rule(
        "status.history-api",
        "§8, guide: Dashboard",
        "otakit's device history lists every status in order (QUEUED, INITIATED, then reported)",
        KIND_TYPES,
    ),
    Rule(
        "status.dashboard-counts",
        "§8, guide: Dashboard",
        "otakit's dashboard counts INITIATED as updating and FAILED as failed",
        KIND_TYPES,
    ),
)
