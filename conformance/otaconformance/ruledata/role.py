"""Spec §7 and the guide's Overview: who may call each OTA endpoint of the REST API.

One rule per endpoint, about every role. ThingsBoard's controllers say who may call them
(`@PreAuthorize`: the package endpoints are the tenant administrator's, the package infos and
lists are also a customer user's); the system administrator has no packages (403); a caller
without a token, or with an expired one, is not logged in (401). Another tenant's entity is
403 on ThingsBoard and 404 on otakit: both are accepted. A refused call changes nothing.
"""

from otaconformance.rules import ROLES, Rule

REFUSED = "; a refused call changes nothing"

RULES = (
    Rule(
        "role.create-package",
        "§7",
        "POST /api/otaPackage (no id) creates a package for a tenant administrator only; "
        "customer users and the system administrator get 403, no or an expired token 401; nothing "
        "refused appears in the tenant. Another tenant's administrator cannot create one in our "
        "profile: 400, 403 or 404 (an otakit extension: ThingsBoard's validator finds the "
        "profile by its id alone, and makes the package in the caller's tenant)" + REFUSED,
        roles=ROLES,
    ),
    Rule(
        "role.update-package",
        "§7",
        "POST /api/otaPackage with an id updates the package for its tenant's administrator "
        "only; another tenant's administrator gets 403 or 404, customer users and the system "
        "administrator 403, no or an expired token 401" + REFUSED,
        roles=ROLES,
    ),
    Rule(
        "role.upload-package",
        "§7",
        "POST /api/otaPackage/{id} (the data) is for the package's tenant administrator only; "
        "another tenant's administrator gets 403 or 404, customer users and the system "
        "administrator 403, no or an expired token 401" + REFUSED,
        roles=ROLES,
    ),
    Rule(
        "role.read-info",
        "§7, guide: Overview",
        "GET /api/otaPackage/info/{id} answers the package's tenant administrator and every "
        "customer user of that tenant (packages are the tenant's, not a customer's); the system "
        "administrator gets 403, no or an expired token 401. Another tenant's administrator gets "
        "403 or 404 (an otakit extension: ThingsBoard's controller reads the info without "
        "checking its tenant)",
        roles=ROLES,
    ),
    Rule(
        "role.read-package",
        "§7",
        "GET /api/otaPackage/{id} (the info plus the data) answers the package's tenant "
        "administrator only; another tenant's administrator gets 403 or 404, customer users and "
        "the system administrator 403, no or an expired token 401",
        roles=ROLES,
    ),
    Rule(
        "role.download",
        "§7",
        "GET /api/otaPackage/{id}/download gives the bytes to the package's tenant administrator "
        "only; another tenant's administrator gets 403 or 404, customer users and the system "
        "administrator 403, no or an expired token 401",
        roles=ROLES,
    ),
    Rule(
        "role.list",
        "§7, guide: Overview",
        "GET /api/otaPackages lists the caller's tenant's packages to its administrator and its "
        "customer users (never another tenant's); the system administrator gets 403, no or an "
        "expired token 401",
        roles=ROLES,
    ),
    Rule(
        "role.list-assignable",
        "§7, guide: Overview",
        "GET /api/otaPackages/{profileId}/{type} lists the tenant's assignable packages to its "
        "administrator and its customer users; another tenant's administrator never sees them "
        "(an empty page, or 403/404 for our profile); the system administrator gets 403, no or "
        "an expired token 401",
        roles=ROLES,
    ),
    Rule(
        "role.delete",
        "§7",
        "DELETE /api/otaPackage/{id} is for the package's tenant administrator only; another "
        "tenant's administrator gets 403 or 404, customer users and the system administrator "
        "403, no or an expired token 401; a refused delete leaves the package",
        roles=ROLES,
    ),
    Rule(
        "role.assign-device",
        "§7, guide: Overview",
        "POST /api/device with firmwareId/softwareId assigns the package for the tenant "
        "administrator and for a user of the customer that owns the device (customers assign "
        "existing packages to their devices); a user of another customer or another tenant's "
        "administrator gets 403 or 404, the system administrator 403, no or an expired token "
        "401; a refused assignment leaves the device as it was",
        roles=ROLES,
    ),
    Rule(
        "role.assign-profile",
        "§7",
        "POST /api/deviceProfile with firmwareId/softwareId assigns the package for the tenant "
        "administrator only; another tenant's administrator gets 403 or 404, customer users and "
        "the system administrator 403, no or an expired token 401; a refused assignment leaves "
        "the profile as it was",
        roles=ROLES,
    ),
)
