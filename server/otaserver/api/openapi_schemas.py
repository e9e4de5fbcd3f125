"""The OpenAPI document's component schemas of answers, and the assembly of all of them.

Answers are described exactly (every field the views write, with its nullability), so that a
change of the wire format shows. The request schemas are in openapi_requests.
"""

from __future__ import annotations

from ..domain.enums import (
    ActionStatus,
    ActionType,
    Authority,
    ChecksumAlgorithm,
    EntityType,
    OtaPackageType,
)
from ..domain.inputs import InputLimits
from .openapi_requests import request_schemas
from .schema_parts import JsonDict, id_of, nullable
from .views import CONTACT_FIELDS, PROFILE_ENUMS, PROFILE_IDS, PROFILE_TEXTS

_TIME = {"type": "integer", "format": "int64", "minimum": 0}
_STRING = {"type": "string"}
_NULLABLE_STRING = {"type": ["string", "null"]}
_BOOL = {"type": "boolean"}
_JSON_OBJECT = {"type": ["object", "null"]}
_ANY: JsonDict = {}


def _ref(name: str) -> JsonDict:
    return {"$ref": f"#/components/schemas/{name}"}


def _answer(properties: JsonDict) -> JsonDict:
    """An object the server writes: exactly these fields, every one present."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def _page(item: JsonDict) -> JsonDict:
    return _answer(
        {
            "data": {"type": "array", "items": item},
            "totalPages": {"type": "integer", "minimum": 0},
            "totalElements": {"type": "integer", "minimum": 0},
            "hasNext": _BOOL,
        }
    )


def _answers() -> JsonDict:
    tenant_id, customer_id = id_of("TENANT"), id_of("CUSTOMER")
    package_id = nullable(id_of("OTA_PACKAGE"))
    contact = dict.fromkeys(CONTACT_FIELDS, _NULLABLE_STRING)
    package_info = {
        "id": id_of("OTA_PACKAGE"),
        "createdTime": _TIME,
        "tenantId": tenant_id,
        "deviceProfileId": id_of("DEVICE_PROFILE"),
        "type": {"enum": [t.value for t in OtaPackageType]},
        "title": _STRING,
        "version": _STRING,
        "tag": _NULLABLE_STRING,
        "url": _NULLABLE_STRING,
        "hasData": _BOOL,
        "fileName": _NULLABLE_STRING,
        "contentType": _NULLABLE_STRING,
        "checksumAlgorithm": nullable({"enum": [a.value for a in ChecksumAlgorithm]}),
        "checksum": _NULLABLE_STRING,
        "dataSize": {"type": ["integer", "null"], "minimum": 0},
        "additionalInfo": _JSON_OBJECT,
        "externalId": {"type": "null"},
        "name": _STRING,
    }
    profile_details: JsonDict = {
        **{name: {"enum": values} for name, values in PROFILE_ENUMS.items()},
        "profileData": {"type": "object"},
        **dict.fromkeys(PROFILE_TEXTS, _NULLABLE_STRING),
        **dict.fromkeys(PROFILE_IDS, _JSON_OBJECT),
    }
    device = {
        "id": id_of("DEVICE"),
        "createdTime": _TIME,
        "tenantId": tenant_id,
        "customerId": customer_id,
        "ownerId": {"anyOf": [tenant_id, customer_id]},
        "name": _STRING,
        "type": _STRING,
        "label": _NULLABLE_STRING,
        "deviceProfileId": id_of("DEVICE_PROFILE"),
        "deviceData": {"type": "object"},
        "firmwareId": package_id,
        "softwareId": package_id,
        "additionalInfo": _JSON_OBJECT,
    }
    schemas: JsonDict = {
        "Error": _answer(
            {
                "status": {"type": "integer", "minimum": 400, "maximum": 599},
                "message": _STRING,
                "errorCode": {"type": "integer"},
                "timestamp": _TIME,
            }
        ),
        "JwtPair": _answer({"token": _STRING, "refreshToken": _STRING}),
        "User": _answer(
            {
                "id": id_of("USER"),
                "createdTime": _TIME,
                "tenantId": tenant_id,
                "customerId": customer_id,
                "email": _STRING,
                "name": _STRING,
                "authority": {"enum": [a.value for a in Authority]},
                "firstName": _NULLABLE_STRING,
                "lastName": _NULLABLE_STRING,
                "additionalInfo": _JSON_OBJECT,
            }
        ),
        "Tenant": _answer(
            {
                "id": tenant_id,
                "createdTime": _TIME,
                "title": _STRING,
                "name": _STRING,
                "region": _NULLABLE_STRING,
                **contact,
                "additionalInfo": _JSON_OBJECT,
            }
        ),
        "Customer": _answer(
            {
                "id": customer_id,
                "createdTime": _TIME,
                "tenantId": tenant_id,
                "title": _STRING,
                "name": _STRING,
                **contact,
                "additionalInfo": _JSON_OBJECT,
            }
        ),
        "Device": _answer(device),
        "DeviceInfo": _answer(
            {
                **device,
                "customerTitle": _NULLABLE_STRING,
                "customerIsPublic": _BOOL,
                "deviceProfileName": _STRING,
                "active": _BOOL,
            }
        ),
        "Count": {"type": "integer", "minimum": 0},
        "DeviceCredentials": _answer(
            {
                "id": _answer({"id": {"type": "string", "format": "uuid"}}),
                "createdTime": _TIME,
                "deviceId": id_of("DEVICE"),
                "credentialsType": {"const": "ACCESS_TOKEN"},
                "credentialsId": _STRING,
                "credentialsValue": {"type": "null"},
            }
        ),
        "DeviceProfile": _answer(
            {
                **profile_details,
                "id": id_of("DEVICE_PROFILE"),
                "createdTime": _TIME,
                "tenantId": tenant_id,
                "name": _STRING,
                "description": _NULLABLE_STRING,
                "default": _BOOL,
                "firmwareId": package_id,
                "softwareId": package_id,
            }
        ),
        "DeviceProfileInfo": _answer(
            {
                "id": id_of("DEVICE_PROFILE"),
                "tenantId": tenant_id,
                "name": _STRING,
                "image": _NULLABLE_STRING,
                "defaultDashboardId": _JSON_OBJECT,
                "type": {"enum": PROFILE_ENUMS["type"]},
                "transportType": {"enum": PROFILE_ENUMS["transportType"]},
            }
        ),
        "OtaPackageInfo": _answer(package_info),
        "OtaPackage": _answer(
            {**package_info, "data": {"type": ["string", "null"], "contentEncoding": "base64"}}
        ),
        "AuditLog": _answer(
            {
                "id": id_of("AUDIT_LOG"),
                "createdTime": _TIME,
                "tenantId": tenant_id,
                "customerId": customer_id,
                "entityId": {"anyOf": [*(id_of(t.value) for t in EntityType), {"type": "null"}]},
                "entityName": _NULLABLE_STRING,
                "userId": nullable(id_of("USER")),
                "userName": _NULLABLE_STRING,
                "actionType": {"enum": [a.value for a in ActionType]},
                "actionData": {"type": "object"},
                "actionStatus": {"enum": [s.value for s in ActionStatus]},
                "actionFailureDetails": _NULLABLE_STRING,
            }
        ),
        "AttributeList": {
            "type": "array",
            "items": _answer({"key": _STRING, "value": _ANY, "lastUpdateTs": _TIME}),
        },
        "TimeseriesMap": {
            "type": "object",
            "additionalProperties": {
                "type": "array",
                "items": _answer({"ts": _TIME, "value": _ANY}),
            },
        },
        "KeyList": {"type": "array", "items": _STRING},
        "DashboardCounts": _answer(
            {
                name: {"type": "integer", "minimum": 0}
                for name in ("waiting", "updating", "updated", "failed", "total")
            }
        ),
        "DashboardDevices": _page(
            _answer(
                {
                    "deviceId": id_of("DEVICE"),
                    "deviceName": _STRING,
                    "currentTitle": _ANY,
                    "currentVersion": _ANY,
                    "targetTitle": _NULLABLE_STRING,
                    "targetVersion": _NULLABLE_STRING,
                    "status": _NULLABLE_STRING,
                    "progress": {"type": ["integer", "null"]},
                    "lastChange": {"type": ["integer", "null"]},
                    "error": _NULLABLE_STRING,
                    "retries": {"type": "integer", "minimum": 0},
                    "finished": _BOOL,
                }
            )
        ),
        "UpdateHistory": {
            "type": "array",
            "items": _answer(
                {
                    "ts": _TIME,
                    "status": _STRING,
                    "error": _NULLABLE_STRING,
                    "title": _NULLABLE_STRING,
                    "version": _NULLABLE_STRING,
                    "durationMs": {"type": ["integer", "null"], "minimum": 0},
                }
            ),
        },
        "DashboardTimeline": _answer(
            {
                "startTs": {"type": "integer"},
                "endTs": {"type": "integer"},
                "intervalMs": {"type": "integer", "minimum": 1},
                "points": {
                    "type": "array",
                    "items": _answer(
                        {
                            "ts": {"type": "integer"},
                            **{
                                tab: {"type": "integer", "minimum": 0}
                                for tab in ("waiting", "updating", "updated", "failed")
                            },
                        }
                    ),
                },
            }
        ),
        "DashboardDurations": _answer(
            {
                "count": {"type": "integer", "minimum": 0},
                **{p: {"type": ["integer", "null"], "minimum": 0} for p in ("p50", "p90", "p99")},
                "bins": {
                    "type": "array",
                    "items": _answer(
                        {
                            "fromMs": {"type": "integer", "minimum": 0},
                            "toMs": {"type": "integer", "minimum": 1},
                            "count": {"type": "integer", "minimum": 0},
                        }
                    ),
                },
            }
        ),
        "DeviceAttributes": {
            "type": "object",
            "properties": {"client": {"type": "object"}, "shared": {"type": "object"}},
            "additionalProperties": False,
        },
    }
    for name in (
        "User",
        "Tenant",
        "Customer",
        "Device",
        "DeviceInfo",
        "DeviceProfile",
        "DeviceProfileInfo",
        "OtaPackageInfo",
        "AuditLog",
    ):
        schemas[f"PageData{name}"] = _page(_ref(name))
    schemas["DeviceOrPage"] = {"anyOf": [_ref("Device"), _ref("PageDataDevice")]}
    return schemas


def component_schemas(limits: InputLimits) -> JsonDict:
    return {**_answers(), **request_schemas(limits)}
