"""What a client submits to create or update an entity, already parsed from its JSON.

`id` is None to create and set to update; an update replaces every field (ThingsBoard's POST
semantics: a field left out is cleared), except those the server owns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from ..domain.enums import Authority, OtaPackageType
from ..domain.model import JsonDict


@dataclass
class TenantForm:
    id: UUID | None
    title: str
    region: str | None = None
    additional_info: JsonDict | None = None
    contact: JsonDict = field(default_factory=dict)


@dataclass
class CustomerForm:
    id: UUID | None
    title: str
    additional_info: JsonDict | None = None
    contact: JsonDict = field(default_factory=dict)


@dataclass
class UserForm:
    id: UUID | None
    email: str
    authority: Authority
    tenant_id: UUID | None = None
    customer_id: UUID | None = None
    first_name: str | None = None
    last_name: str | None = None
    additional_info: JsonDict | None = None


@dataclass
class ProfileForm:
    id: UUID | None
    name: str
    description: str | None = None
    is_default: bool = False
    firmware_id: UUID | None = None
    software_id: UUID | None = None
    details: JsonDict = field(default_factory=dict)


@dataclass
class DeviceForm:
    id: UUID | None
    name: str
    device_profile_id: UUID | None = None
    type: str | None = None
    label: str | None = None
    firmware_id: UUID | None = None
    software_id: UUID | None = None
    additional_info: JsonDict | None = None
    device_data: JsonDict | None = None


@dataclass
class PackageForm:
    id: UUID | None
    title: str
    version: str
    type: OtaPackageType
    device_profile_id: UUID
    tag: str | None = None
    url: str | None = None
    uses_url: bool = False
    additional_info: JsonDict | None = None


@dataclass(frozen=True)
class Upload:
    """Package data arriving as a stream, with what the client said about it."""

    file_name: str
    content_type: str
    checksum_algorithm: str | None
    checksum: str | None
