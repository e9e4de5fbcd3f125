"""The user guide's Provisioning: "in Audit logs you can browse firmware status" (otakit's audit
log, ThingsBoard's `/api/audit/logs` shape): each package action leaves one entry."""

from otaconformance.rules import KIND_TYPES, Rule

RULES = (
    Rule(
        "audit.package-created",
        "guide: Provisioning",
        "creating a package leaves one ADDED entry for it (its id and title), by the calling "
        "user, SUCCESS",
        KIND_TYPES,
    ),
    Rule(
        "audit.package-uploaded",
        "guide: Provisioning",
        "uploading a package's data leaves one OTA_PACKAGE_UPLOADED entry for it, by the "
        "calling user, SUCCESS",
        KIND_TYPES,
    ),
    Rule(
        "audit.package-updated",
        "guide: Provisioning",
        "editing a package's additionalInfo leaves one UPDATED entry for it, by the calling "
        "user, SUCCESS",
        KIND_TYPES,
    ),
    Rule(
        "audit.package-deleted",
        "guide: Provisioning",
        "deleting a package leaves one DELETED entry for it, by the calling user, SUCCESS",
        KIND_TYPES,
    ),
    Rule(
        "audit.package-assigned",
        "guide: Provisioning",
        "assigning a package to a device, or to a device profile, leaves one "
        "OTA_PACKAGE_ASSIGNED entry for that device or profile naming the package, SUCCESS; its "
        "data give the new package (firmwareId or softwareId) and the one before (previous...)",
        KIND_TYPES,
    ),
    Rule(
        "audit.package-unassigned",
        "guide: Provisioning",
        "unassigning it from a device, or from a device profile, leaves one "
        "OTA_PACKAGE_UNASSIGNED entry for that device or profile, SUCCESS, with the package "
        "before in its data",
        KIND_TYPES,
    ),
    Rule(
        "audit.failure-recorded",
        "guide: Provisioning",
        "a refused package action (an upload with a wrong checksum, a delete while in use) "
        "leaves a FAILURE entry of that action for the package, with its reason",
        KIND_TYPES,
    ),
)
