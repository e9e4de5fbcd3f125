"""The entities of the firmware service, as plain dataclasses.

Timestamps are milliseconds since the epoch (ThingsBoard's `createdTime`). Free-form JSON that the
server keeps but does not interpret (contact details, `additionalInfo`, profile data) stays a dict.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from .enums import (
    ActionStatus,
    ActionType,
    Authority,
    ChecksumAlgorithm,
    EntityType,
    OtaPackageType,
)

JsonDict = dict[str, Any]


@dataclass
class Tenant:
    id: UUID
    created_time: int
    title: str
    region: str | None = None
    additional_info: JsonDict | None = None
    contact: JsonDict = field(default_factory=dict)


@dataclass
class Customer:
    id: UUID
    created_time: int
    tenant_id: UUID
    title: str
    additional_info: JsonDict | None = None
    contact: JsonDict = field(default_factory=dict)


@dataclass
class User:
    id: UUID
    created_time: int
    tenant_id: UUID | None
    customer_id: UUID | None
    email: str
    authority: Authority
    first_name: str | None = None
    last_name: str | None = None
    additional_info: JsonDict | None = None
    password_hash: str | None = None
    activation_token: str | None = None


@dataclass
class DeviceProfile:
    id: UUID
    created_time: int
    tenant_id: UUID
    name: str
    description: str | None = None
    is_default: bool = False
    firmware_id: UUID | None = None
    software_id: UUID | None = None
    # ThingsBoard's remaining profile fields (type, transportType, profileData, ...) kept verbatim.
    details: JsonDict = field(default_factory=dict)

    def package_id(self, package_type: OtaPackageType) -> UUID | None:
        return self.firmware_id if package_type is OtaPackageType.FIRMWARE else self.software_id


@dataclass
class Device:
    id: UUID
    created_time: int
    tenant_id: UUID
    customer_id: UUID | None
    name: str
    device_profile_id: UUID
    type: str
    label: str | None = None
    firmware_id: UUID | None = None
    software_id: UUID | None = None
    additional_info: JsonDict | None = None
    device_data: JsonDict | None = None

    def package_id(self, package_type: OtaPackageType) -> UUID | None:
        return self.firmware_id if package_type is OtaPackageType.FIRMWARE else self.software_id


@dataclass(frozen=True)
class DeviceInfo:
    """A device with the names ThingsBoard's DeviceInfo adds: its customer's and profile's, and
    whether it has been active lately."""

    device: Device
    customer_title: str | None
    customer_is_public: bool
    device_profile_name: str
    active: bool


@dataclass
class DeviceCredentials:
    id: UUID
    created_time: int
    device_id: UUID
    credentials_id: str
    credentials_type: str = "ACCESS_TOKEN"


@dataclass
class OtaPackage:
    id: UUID
    created_time: int
    tenant_id: UUID
    device_profile_id: UUID
    type: OtaPackageType
    title: str
    version: str
    tag: str | None = None
    url: str | None = None
    file_name: str | None = None
    content_type: str | None = None
    checksum_algorithm: ChecksumAlgorithm | None = None
    checksum: str | None = None
    data_size: int | None = None
    # SHA-256 of the data: the key of its blob in the content-addressed store.
    data_sha256: str | None = None
    additional_info: JsonDict | None = None

    @property
    def has_data(self) -> bool:
        return self.data_sha256 is not None

    @property
    def download_name(self) -> str:
        """The name its data is downloaded under."""
        return self.file_name or f"{self.title}-{self.version}.bin"

    @property
    def assignable(self) -> bool:
        """A package can be assigned once it has data or points to a URL."""
        return self.has_data or bool(self.url)


@dataclass
class AuditEntry:
    id: UUID
    created_time: int
    tenant_id: UUID | None
    customer_id: UUID | None
    user_id: UUID | None
    user_name: str | None
    entity_type: EntityType | None
    entity_id: UUID | None
    entity_name: str | None
    action_type: ActionType
    action_status: ActionStatus
    action_data: JsonDict = field(default_factory=dict)
    failure_details: str | None = None


@dataclass(frozen=True)
class Page:
    """One page of a listing, with ThingsBoard's paging arithmetic."""

    data: list[Any]
    total_elements: int
    page_size: int
    page: int

    @property
    def total_pages(self) -> int:
        return -(-self.total_elements // self.page_size) if self.page_size else 0

    @property
    def has_next(self) -> bool:
        return (self.page + 1) * self.page_size < self.total_elements


@dataclass(frozen=True)
class PageRequest:
    page_size: int
    page: int
    text_search: str | None = None
    sort_property: str | None = None
    sort_order_desc: bool = False
    # Bounds on createdTime, in ms, inclusive (ThingsBoard's TimePageLink).
    start_time: int | None = None
    end_time: int | None = None

    @property
    def offset(self) -> int:
        return self.page_size * self.page


@dataclass
class UserSession:
    """One login: the tokens it issued carry its id and die with it."""

    id: UUID
    created_time: int
    user_id: UUID
    expires_ts: int
