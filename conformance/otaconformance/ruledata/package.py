"""Spec §4.5 and the user guide's Provisioning: what a package may be, and what stays fixed."""

from otaconformance.rules import KIND_TYPES, Rule

RULES = (
    Rule(
        "package.title-version-unique",
        "§4.5",
        "(title, version) is unique per tenant: a second package with the same pair is refused "
        "(400) and not stored",
        KIND_TYPES,
    ),
    Rule(
        "package.unique-across-types",
        "§4.5",
        "the unique pair does not include the type: a firmware and a software with the same "
        "title and version are refused (400)",
        KIND_TYPES,
    ),
    Rule(
        "package.unique-per-tenant-only",
        "§4.5",
        "the pair is unique per tenant only: another tenant may have a package with the same "
        "title and version",
        KIND_TYPES,
    ),
    Rule(
        "package.unique-case-sensitive",
        "§4.5",
        "the unique pair is compared case-sensitively (a DB unique key): titles or versions that "
        "differ only in case are two packages",
        KIND_TYPES,
    ),
    Rule(
        "package.required-fields",
        "§4.5",
        "title, version and type are required: a package without one is refused (400)",
        KIND_TYPES,
    ),
    Rule(
        "package.max-length",
        "§4.5",
        "title and version are at most 255 characters: 256 are refused (400), 255 kept whole; "
        "a tag of 255 (the database's column) is kept whole too",
        KIND_TYPES,
    ),
    Rule(
        "package.checksum-max-length",
        "§4.5",
        "a checksum is at most 1020 characters: a longer one is refused (400) and nothing stored",
        KIND_TYPES,
    ),
    Rule(
        "package.fixed-fields",
        "§4.5",
        "type, title, version, tag, deviceProfileId and url cannot change once set: a change is "
        "refused (400) and the field left as it was",
        KIND_TYPES,
    ),
    Rule(
        "package.fixed-data-fields",
        "§4.5",
        "fileName, contentType, checksumAlgorithm, checksum and dataSize of uploaded data never "
        "change through a save of the info, and a second upload of data is refused (400)",
        KIND_TYPES,
    ),
    Rule(
        "package.additional-info-editable",
        "§4.5",
        "additionalInfo stays editable, and editing it keeps the data and its checksum",
        KIND_TYPES,
    ),
    Rule(
        "package.upload-keeps-file",
        "§4.5",
        "a binary upload stores the part's fileName and contentType and the data's dataSize",
        KIND_TYPES,
    ),
    Rule(
        "package.url-no-data",
        "§4.5",
        "a URL package must not have data: an upload to it is refused (400) and stores nothing",
        KIND_TYPES,
    ),
    Rule(
        "package.delete-refused-device",
        "§4.5",
        "deleting a package a device uses is refused (400) and keeps the package",
        KIND_TYPES,
    ),
    Rule(
        "package.delete-refused-profile",
        "§4.5",
        "deleting a package a device profile uses is refused (400) and keeps the package",
        KIND_TYPES,
    ),
    Rule(
        "package.delete-after-unassign",
        "guide: Assignment",
        "once no device or profile uses it, the package can be deleted",
        KIND_TYPES,
    ),
    Rule(
        "package.default-algorithm-sha256",
        "guide: Provisioning",
        "an upload naming no checksum algorithm gets SHA-256, computed by the server "
        "(ThingsBoard's REST call requires checksumAlgorithm)",
        KIND_TYPES,
    ),
    Rule(
        "package.search-by-title",
        "guide: Provisioning",
        "the package list can be searched by title (textSearch)",
        KIND_TYPES,
    ),
    Rule(
        "package.download-and-delete",
        "guide: Provisioning",
        "a package can be downloaded (its uploaded bytes) and deleted (then it is gone: 404)",
        KIND_TYPES,
    ),
    Rule(
        "package.error-texts",
        "§4.5",
        "the message of a refused duplicate, a wrong file and a delete of a package in use "
        "starts with ThingsBoard's own words (\"OtaPackage with such title and version already "
        'exists!", "Wrong otaPackage file!", "The otaPackage referenced by the devices cannot be '
        'deleted!", "... by the device profile ...")',
        KIND_TYPES,
    ),
)
