"""Spec §7: the REST API of packages, as a tenant administrator calls it."""

from otaconformance.rules import KIND_TYPES, Rule

RULES = (
    Rule(
        "rest.create",
        "§7",
        "POST /api/otaPackage creates a package and returns its OtaPackageInfo with "
        "hasData=false, an id {entityType: OTA_PACKAGE, id} and the read-only name = title",
        KIND_TYPES,
    ),
    Rule(
        "rest.url-required",
        "§7",
        "a package with usesUrl=true needs a url that is not blank: without one it is refused "
        "(400)",
        KIND_TYPES,
    ),
    Rule(
        "rest.info-fields",
        "§7",
        "an OtaPackageInfo carries id, createdTime, tenantId, deviceProfileId, type, title, "
        "version, tag, url, hasData, fileName, contentType, checksumAlgorithm, checksum, "
        "dataSize, additionalInfo and name",
        KIND_TYPES,
    ),
    Rule(
        "rest.upload-multipart",
        "§7",
        "POST /api/otaPackage/{id} stores the multipart part `file`, with checksumAlgorithm "
        "(and checksum) as query parameters, and returns the OtaPackageInfo with hasData",
        KIND_TYPES,
    ),
    Rule(
        "rest.upload-form-fields",
        "§7",
        "checksumAlgorithm and checksum may also be form fields of the multipart body",
        KIND_TYPES,
    ),
    Rule(
        "rest.algorithm-case-insensitive",
        "§7",
        "checksumAlgorithm is case-insensitive, and kept as the enum name (SHA256)",
        KIND_TYPES,
    ),
    Rule(
        "rest.algorithm-unknown-refused",
        "§7",
        "a checksumAlgorithm that is none of the seven is refused with 400, and the package "
        "stays without data",
        KIND_TYPES,
    ),
    Rule(
        "rest.info-and-full",
        "§7",
        "GET /api/otaPackage/info/{id} returns the OtaPackageInfo; GET /api/otaPackage/{id} "
        "returns the same info (the OtaPackage, with its data)",
        KIND_TYPES,
    ),
    Rule(
        "rest.full-data-base64",
        "§7 (otakit extension)",
        "the OtaPackage's `data` is the uploaded bytes in base64 (null without data)",
        KIND_TYPES,
    ),
    Rule(
        "rest.paging",
        "§7",
        "GET /api/otaPackages pages by pageSize and page (0-based; both required, 400 without) "
        "and tells totalElements, totalPages and hasNext",
    ),
    Rule(
        "rest.sorting",
        "§7",
        "GET /api/otaPackages sorts by sortProperty (title, version ...), in sortOrder ASC or DESC",
    ),
    Rule(
        "rest.assignable-list",
        "§7",
        "GET /api/otaPackages/{deviceProfileId}/{type} lists only that profile's packages of "
        "that type that have data or a URL",
        KIND_TYPES,
    ),
    Rule(
        "rest.download-headers",
        "§7",
        "GET /api/otaPackage/{id}/download returns the bytes with the package's Content-Type, "
        "Content-Length, Content-Disposition attachment;filename=<fileName> and x-filename",
        KIND_TYPES,
    ),
    Rule(
        "rest.download-url-package",
        "§7",
        "a URL package has nothing to download: GET /api/otaPackage/{id}/download is 400",
        KIND_TYPES,
    ),
    Rule(
        "rest.delete",
        "§7",
        "DELETE /api/otaPackage/{id} returns 200 and the package is gone (404)",
        KIND_TYPES,
    ),
    Rule(
        "rest.download-range",
        "§7 (otakit extension)",
        "the download honours a single Range (bytes=a-b, bytes=a-, bytes=-n): 206 with that "
        "slice, its Content-Length and Content-Range bytes a-b/size",
        KIND_TYPES,
    ),
    Rule(
        "rest.download-range-unsatisfiable",
        "§7 (otakit extension)",
        "a Range starting past the end is 416 with Content-Range bytes */size",
        KIND_TYPES,
    ),
)
