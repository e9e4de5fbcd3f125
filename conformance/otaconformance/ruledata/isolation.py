"""Spec §6 and §7, guide: Provisioning: a device sees only its own attributes, package and
pushes; a tenant sees only its own packages and devices. (Who may call each REST endpoint, role
by role, is `role`.)"""

from otaconformance.rules import KIND_TYPES, Rule, Transport

RULES = (
    Rule(
        "isolation.device-package",
        "§6.3",
        "a device never downloads another device's package, even when it names that package's "
        "title and version",
        KIND_TYPES,
        (Transport.HTTP,),
    ),
    Rule(
        "isolation.device-attributes",
        "§6.3",
        "a device never reads another device's shared attributes",
        transports=(Transport.HTTP,),
    ),
    Rule(
        "isolation.push-addressee",
        "§6.2",
        "an attribute push of an assignment reaches only the device it is for",
        KIND_TYPES,
        (Transport.MQTT5,),
    ),
    Rule(
        "isolation.tenant-entities",
        "§7",
        "another tenant's administrator cannot download or delete our package, nor read our "
        "device or its telemetry (403 or 404), and a refused delete leaves the package",
        KIND_TYPES,
    ),
    Rule(
        "isolation.tenant-info",
        "§7",
        "another tenant's administrator cannot read our package's info (403 or 404; an otakit "
        "extension: ThingsBoard's GET /api/otaPackage/info/{id} does not check the tenant)",
        KIND_TYPES,
    ),
    Rule(
        "isolation.tenant-list",
        "§7, guide: Provisioning",
        "another tenant's package list leaves out our packages",
        KIND_TYPES,
    ),
    Rule(
        "isolation.tenant-assign",
        "§4.5",
        "another tenant cannot assign our package to its own device (400, 403 or 404)",
        KIND_TYPES,
    ),
)
