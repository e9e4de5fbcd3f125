"""Spec §4.1 and the assignment parts of §4.5: the effective package, and what may be assigned."""

from otaconformance.rules import KIND_TYPES, TRANSPORTS, Rule

RULES = (
    Rule(
        "assignment.own-wins",
        "§4.1",
        "a device's own package is its effective one, whatever its profile's: the device "
        "downloads its own, not its profile's",
        KIND_TYPES,
        TRANSPORTS,
    ),
    Rule(
        "assignment.profile-fallback",
        "§4.1",
        "a device without its own package has its profile's: clearing its own falls back to the "
        "profile's, which is queued (not deleted) and served at download",
        KIND_TYPES,
        TRANSPORTS,
    ),
    Rule(
        "assignment.types-apart",
        "§1",
        "firmware and software are assigned apart: each download serves its own type's package, "
        "and unassigning one leaves the other",
        KIND_TYPES,
    ),
    Rule(
        "assignment.no-data-refused",
        "§4.5",
        "a package without data or URL cannot be assigned to a device or a profile (400)",
        KIND_TYPES,
    ),
    Rule(
        "assignment.wrong-type-refused",
        "§4.5",
        "a package cannot be assigned in the other type's field (firmwareId takes FIRMWARE, "
        "softwareId SOFTWARE) of a device or a profile (400)",
        KIND_TYPES,
    ),
    Rule(
        "assignment.other-profile-refused",
        "§4.5",
        "a package of another profile cannot be assigned to a device or a profile (400, \"Can't "
        'assign firmware with different deviceProfile!")',
        KIND_TYPES,
    ),
    Rule(
        "assignment.unknown-package-refused",
        "§4.5",
        "a package id that names no package cannot be assigned to a device or a profile (400)",
        KIND_TYPES,
    ),
    Rule(
        "assignment.other-tenant-refused",
        "§4.5",
        "another tenant's package cannot be assigned to a device or a profile (400, or 403/404 "
        "for an entity the caller cannot see)",
        KIND_TYPES,
    ),
    Rule(
        "assignment.refusal-changes-nothing",
        "§4.5",
        "a refused assignment changes nothing: the device or profile keeps its previous package, "
        "and nothing is queued",
        KIND_TYPES,
    ),
)
