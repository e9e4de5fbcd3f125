"""Every wire name and state of the domain, as enums whose values are the names on the wire."""

from __future__ import annotations

from enum import IntEnum, StrEnum


class Authority(StrEnum):
    SYS_ADMIN = "SYS_ADMIN"
    TENANT_ADMIN = "TENANT_ADMIN"
    CUSTOMER_USER = "CUSTOMER_USER"


class EntityType(StrEnum):
    TENANT = "TENANT"
    CUSTOMER = "CUSTOMER"
    USER = "USER"
    DEVICE = "DEVICE"
    DEVICE_PROFILE = "DEVICE_PROFILE"
    OTA_PACKAGE = "OTA_PACKAGE"
    AUDIT_LOG = "AUDIT_LOG"


class OtaPackageType(StrEnum):
    FIRMWARE = "FIRMWARE"
    SOFTWARE = "SOFTWARE"

    @property
    def key_prefix(self) -> str:
        """The prefix of this type's attribute keys: `fw_title`, `sw_title`."""
        return "fw" if self is OtaPackageType.FIRMWARE else "sw"

    @property
    def assignment_field(self) -> str:
        """The JSON field of a device or profile that assigns a package of this type."""
        return "firmwareId" if self is OtaPackageType.FIRMWARE else "softwareId"


class ChecksumAlgorithm(StrEnum):
    MD5 = "MD5"
    SHA256 = "SHA256"
    SHA384 = "SHA384"
    SHA512 = "SHA512"
    CRC32 = "CRC32"
    MURMUR3_32 = "MURMUR3_32"
    MURMUR3_128 = "MURMUR3_128"


class UpdateStatus(StrEnum):
    """The eight statuses of an update, in ThingsBoard's order."""

    QUEUED = "QUEUED"
    INITIATED = "INITIATED"
    DOWNLOADING = "DOWNLOADING"
    DOWNLOADED = "DOWNLOADED"
    VERIFIED = "VERIFIED"
    UPDATING = "UPDATING"
    UPDATED = "UPDATED"
    FAILED = "FAILED"


class ActionType(StrEnum):
    """Audit log actions (ThingsBoard's names)."""

    ADDED = "ADDED"
    UPDATED = "UPDATED"
    DELETED = "DELETED"
    ASSIGNED_TO_CUSTOMER = "ASSIGNED_TO_CUSTOMER"
    UNASSIGNED_FROM_CUSTOMER = "UNASSIGNED_FROM_CUSTOMER"
    OTA_PACKAGE_UPLOADED = "OTA_PACKAGE_UPLOADED"
    OTA_PACKAGE_ASSIGNED = "OTA_PACKAGE_ASSIGNED"
    OTA_PACKAGE_UNASSIGNED = "OTA_PACKAGE_UNASSIGNED"
    CREDENTIALS_UPDATED = "CREDENTIALS_UPDATED"
    LOGIN = "LOGIN"


class ActionStatus(StrEnum):
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"


class ErrorCode(IntEnum):
    """ThingsBoard's `errorCode` numbers of the JSON error body."""

    GENERAL = 2
    AUTHENTICATION = 10
    JWT_TOKEN_EXPIRED = 11
    PERMISSION_DENIED = 20
    INVALID_ARGUMENTS = 30
    BAD_REQUEST_PARAMS = 31
    ITEM_NOT_FOUND = 32
    TOO_MANY_REQUESTS = 33
