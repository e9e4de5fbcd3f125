"""The rules of packages and their assignment (spec §4.1 and §4.5), free of any storage."""

from __future__ import annotations

from uuid import UUID

from . import faults
from .enums import OtaPackageType
from .errors import BadRequest
from .faults import Fault
from .model import Device, DeviceProfile, OtaPackage

MAX_TITLE_LENGTH = 255
MAX_TOKEN_LENGTH = 255
DUPLICATE_PACKAGE = "OtaPackage with such title and version already exists!"
WRONG_FILE = "Wrong otaPackage file!"
REFERENCED_BY_DEVICE = "The otaPackage referenced by the devices cannot be deleted!"
REFERENCED_BY_PROFILE = "The otaPackage referenced by the device profile cannot be deleted!"

# Fields that may be set once and never changed; only additionalInfo stays editable.
IMMUTABLE_FIELDS = (
    "type",
    "title",
    "version",
    "tag",
    "device_profile_id",
)


def effective_package_id(
    device: Device, profile: DeviceProfile, package_type: OtaPackageType
) -> UUID | None:
    """The device's own package if it has one, else its profile's (spec §4.1)."""
    if faults.active(Fault.PROFILE_OVERRIDES_DEVICE):
        return profile.package_id(package_type) or device.package_id(package_type)
    return device.package_id(package_type) or profile.package_id(package_type)


def validate_new_package(package: OtaPackage) -> None:
    for name, value in (("title", package.title), ("version", package.version)):
        if not value or not value.strip():
            raise BadRequest(f"OtaPackage {name} should be specified!")
        if len(value) > MAX_TITLE_LENGTH:
            raise BadRequest(f"OtaPackage {name} length must be at most {MAX_TITLE_LENGTH}!")
    if package.tag is not None and len(package.tag) > MAX_TITLE_LENGTH:
        raise BadRequest(f"OtaPackage tag length must be at most {MAX_TITLE_LENGTH}!")


def check_package_update(existing: OtaPackage, incoming: OtaPackage) -> None:
    """Refuses a change of any field that is fixed once set (spec §4.5)."""
    if faults.active(Fault.TITLE_EDITABLE) and existing.title != incoming.title:
        existing.title = incoming.title
    for name in IMMUTABLE_FIELDS:
        before, after = getattr(existing, name), getattr(incoming, name)
        if before is not None and before != after:
            wire_name = "deviceProfile" if name == "device_profile_id" else name
            raise BadRequest(f"Updating otaPackage {wire_name} is prohibited!")
    # Whether a package is a URL package is fixed at creation, so its url never changes.
    if existing.url != incoming.url:
        raise BadRequest("Updating otaPackage url is prohibited!")


def check_assignable(
    package: OtaPackage | None,
    package_type: OtaPackageType,
    tenant_id: UUID,
    device_profile_id: UUID,
) -> OtaPackage:
    """The package if it may be assigned to a device or profile of `device_profile_id`."""
    kind = package_type.value.lower()
    if package is None or package.tenant_id != tenant_id:
        raise BadRequest(f"Can't assign non-existent {kind}!")
    if package.type is not package_type:
        raise BadRequest(f"Can't assign {kind} with type: {package.type.value}")
    if not package.assignable:
        raise BadRequest(f"Can't assign {kind} with empty data!")
    if package.device_profile_id != device_profile_id:
        raise BadRequest(f"Can't assign {kind} with different deviceProfile!")
    return package
