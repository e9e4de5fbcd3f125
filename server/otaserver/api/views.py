"""Entities as ThingsBoard's JSON: ids as {"entityType","id"}, camelCase fields, pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..domain.enums import EntityType
from ..domain.model import (
    AuditEntry,
    Customer,
    Device,
    DeviceCredentials,
    DeviceInfo,
    DeviceProfile,
    JsonDict,
    OtaPackage,
    Page,
    Tenant,
    User,
)
from .body import NULL_UUID, entity_id_json

CONTACT_FIELDS = ("country", "state", "city", "address", "address2", "zip", "phone", "email")
# ThingsBoard's device profile fields that otakit keeps without acting on them, by kind.
PROFILE_ENUMS = {
    "type": ["DEFAULT"],
    "transportType": ["DEFAULT", "MQTT", "COAP", "LWM2M", "SNMP"],
    "provisionType": [
        "DISABLED",
        "ALLOW_CREATE_NEW_DEVICES",
        "CHECK_PRE_PROVISIONED_DEVICES",
        "X509_CERTIFICATE_CHAIN",
    ],
}
PROFILE_TEXTS = ("image", "defaultQueueName", "provisionDeviceKey")
PROFILE_IDS = ("defaultRuleChainId", "defaultDashboardId", "defaultEdgeRuleChainId", "externalId")
PROFILE_DETAILS = (*PROFILE_ENUMS, "profileData", *PROFILE_TEXTS, *PROFILE_IDS)
DEFAULT_DEVICE_DATA = {
    "configuration": {"type": "DEFAULT"},
    "transportConfiguration": {"type": "DEFAULT"},
}


def page_json(page: Page, view: Callable[[Any], JsonDict]) -> JsonDict:
    return {
        "data": [view(item) for item in page.data],
        "totalPages": page.total_pages,
        "totalElements": page.total_elements,
        "hasNext": page.has_next,
    }


def tenant_json(tenant: Tenant) -> JsonDict:
    return {
        "id": entity_id_json(EntityType.TENANT, tenant.id),
        "createdTime": tenant.created_time,
        "title": tenant.title,
        "name": tenant.title,
        "region": tenant.region,
        **{name: tenant.contact.get(name) for name in CONTACT_FIELDS},
        "additionalInfo": tenant.additional_info,
    }


def customer_json(customer: Customer) -> JsonDict:
    return {
        "id": entity_id_json(EntityType.CUSTOMER, customer.id),
        "createdTime": customer.created_time,
        "tenantId": entity_id_json(EntityType.TENANT, customer.tenant_id),
        "title": customer.title,
        "name": customer.title,
        **{name: customer.contact.get(name) for name in CONTACT_FIELDS},
        "additionalInfo": customer.additional_info,
    }


def user_json(user: User) -> JsonDict:
    return {
        "id": entity_id_json(EntityType.USER, user.id),
        "createdTime": user.created_time,
        "tenantId": entity_id_json(EntityType.TENANT, user.tenant_id or NULL_UUID),
        "customerId": entity_id_json(EntityType.CUSTOMER, user.customer_id or NULL_UUID),
        "email": user.email,
        "name": user.email,
        "authority": user.authority.value,
        "firstName": user.first_name,
        "lastName": user.last_name,
        "additionalInfo": user.additional_info,
    }


def profile_json(profile: DeviceProfile) -> JsonDict:
    return {
        **{name: profile.details.get(name) for name in PROFILE_DETAILS},
        "id": entity_id_json(EntityType.DEVICE_PROFILE, profile.id),
        "createdTime": profile.created_time,
        "tenantId": entity_id_json(EntityType.TENANT, profile.tenant_id),
        "name": profile.name,
        "description": profile.description,
        "default": profile.is_default,
        "firmwareId": entity_id_json(EntityType.OTA_PACKAGE, profile.firmware_id),
        "softwareId": entity_id_json(EntityType.OTA_PACKAGE, profile.software_id),
    }


def profile_info_json(profile: DeviceProfile) -> JsonDict:
    return {
        "id": entity_id_json(EntityType.DEVICE_PROFILE, profile.id),
        "tenantId": entity_id_json(EntityType.TENANT, profile.tenant_id),
        "name": profile.name,
        "image": profile.details.get("image"),
        "defaultDashboardId": profile.details.get("defaultDashboardId"),
        "type": profile.details.get("type", "DEFAULT"),
        "transportType": profile.details.get("transportType", "DEFAULT"),
    }


def device_json(device: Device) -> JsonDict:
    owner = (
        entity_id_json(EntityType.CUSTOMER, device.customer_id)
        if device.customer_id
        else entity_id_json(EntityType.TENANT, device.tenant_id)
    )
    return {
        "id": entity_id_json(EntityType.DEVICE, device.id),
        "createdTime": device.created_time,
        "tenantId": entity_id_json(EntityType.TENANT, device.tenant_id),
        "customerId": entity_id_json(EntityType.CUSTOMER, device.customer_id or NULL_UUID),
        "ownerId": owner,
        "name": device.name,
        "type": device.type,
        "label": device.label,
        "deviceProfileId": entity_id_json(EntityType.DEVICE_PROFILE, device.device_profile_id),
        "deviceData": device.device_data or DEFAULT_DEVICE_DATA,
        "firmwareId": entity_id_json(EntityType.OTA_PACKAGE, device.firmware_id),
        "softwareId": entity_id_json(EntityType.OTA_PACKAGE, device.software_id),
        "additionalInfo": device.additional_info,
    }


def device_info_json(info: DeviceInfo) -> JsonDict:
    """ThingsBoard's DeviceInfo: the device and its customer's and profile's names."""
    return {
        **device_json(info.device),
        "customerTitle": info.customer_title,
        "customerIsPublic": info.customer_is_public,
        "deviceProfileName": info.device_profile_name,
        "active": info.active,
    }


def credentials_json(credentials: DeviceCredentials) -> JsonDict:
    return {
        "id": {"id": str(credentials.id)},
        "createdTime": credentials.created_time,
        "deviceId": entity_id_json(EntityType.DEVICE, credentials.device_id),
        "credentialsType": credentials.credentials_type,
        "credentialsId": credentials.credentials_id,
        "credentialsValue": None,
    }


def package_json(package: OtaPackage) -> JsonDict:
    """OtaPackageInfo."""
    return {
        "id": entity_id_json(EntityType.OTA_PACKAGE, package.id),
        "createdTime": package.created_time,
        "tenantId": entity_id_json(EntityType.TENANT, package.tenant_id),
        "deviceProfileId": entity_id_json(EntityType.DEVICE_PROFILE, package.device_profile_id),
        "type": package.type.value,
        "title": package.title,
        "version": package.version,
        "tag": package.tag,
        "url": package.url,
        "hasData": package.assignable,
        "fileName": package.file_name,
        "contentType": package.content_type,
        "checksumAlgorithm": package.checksum_algorithm.value
        if package.checksum_algorithm
        else None,
        "checksum": package.checksum,
        "dataSize": package.data_size,
        "additionalInfo": package.additional_info,
        "externalId": None,
        "name": package.title,
    }


def audit_json(entry: AuditEntry) -> JsonDict:
    return {
        "id": entity_id_json(EntityType.AUDIT_LOG, entry.id),
        "createdTime": entry.created_time,
        "tenantId": entity_id_json(EntityType.TENANT, entry.tenant_id or NULL_UUID),
        "customerId": entity_id_json(EntityType.CUSTOMER, entry.customer_id or NULL_UUID),
        "entityId": (
            entity_id_json(entry.entity_type, entry.entity_id) if entry.entity_type else None
        ),
        "entityName": entry.entity_name,
        "userId": entity_id_json(EntityType.USER, entry.user_id),
        "userName": entry.user_name,
        "actionType": entry.action_type.value,
        "actionData": entry.action_data,
        "actionStatus": entry.action_status.value,
        "actionFailureDetails": entry.failure_details,
    }
