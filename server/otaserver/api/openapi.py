"""The OpenAPI 3.1 document, built from the route declarations so no route goes undocumented."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from .. import __version__
from .routing import Operation

JsonDict = dict[str, Any]

_STRING = {"type": "string"}
_NULLABLE_STRING = {"type": ["string", "null"]}
_INT = {"type": "integer", "format": "int64"}
_ANY_OBJECT = {"type": ["object", "null"]}


def _ref(name: str) -> JsonDict:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(properties: JsonDict, required: Iterable[str] = ()) -> JsonDict:
    schema: JsonDict = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


_ID = _ref("EntityId")
_CONTACT = {
    name: _NULLABLE_STRING
    for name in ("country", "state", "city", "address", "address2", "zip", "phone", "email")
}
_PACKAGE_INFO = {
    "id": _ID,
    "createdTime": _INT,
    "tenantId": _ID,
    "deviceProfileId": _ID,
    "type": {"enum": ["FIRMWARE", "SOFTWARE"]},
    "title": _STRING,
    "version": _STRING,
    "tag": _NULLABLE_STRING,
    "url": _NULLABLE_STRING,
    "hasData": {"type": "boolean"},
    "fileName": _NULLABLE_STRING,
    "contentType": _NULLABLE_STRING,
    "checksumAlgorithm": {
        "enum": ["MD5", "SHA256", "SHA384", "SHA512", "CRC32", "MURMUR3_32", "MURMUR3_128", None]
    },
    "checksum": _NULLABLE_STRING,
    "dataSize": {"type": ["integer", "null"]},
    "additionalInfo": _ANY_OBJECT,
    "name": _STRING,
}

SCHEMAS: JsonDict = {
    "Error": _object(
        {
            "status": {"type": "integer"},
            "message": _STRING,
            "errorCode": {"type": "integer"},
            "timestamp": _INT,
        },
        ["status", "message", "errorCode", "timestamp"],
    ),
    "EntityId": _object(
        {"entityType": _STRING, "id": {"type": "string", "format": "uuid"}}, ["entityType", "id"]
    ),
    "LoginRequest": _object({"username": _STRING, "password": _STRING}, ["username", "password"]),
    "RefreshRequest": _object({"refreshToken": _STRING}, ["refreshToken"]),
    "ChangePasswordRequest": _object(
        {"currentPassword": _STRING, "newPassword": _STRING}, ["currentPassword", "newPassword"]
    ),
    "ActivateRequest": _object(
        {"activateToken": _STRING, "password": _STRING}, ["activateToken", "password"]
    ),
    "JwtPair": _object({"token": _STRING, "refreshToken": _STRING}, ["token", "refreshToken"]),
    "User": _object(
        {
            "id": _ID,
            "createdTime": _INT,
            "tenantId": _ID,
            "customerId": _ID,
            "email": _STRING,
            "authority": {"enum": ["SYS_ADMIN", "TENANT_ADMIN", "CUSTOMER_USER"]},
            "firstName": _NULLABLE_STRING,
            "lastName": _NULLABLE_STRING,
            "additionalInfo": _ANY_OBJECT,
        },
        ["email", "authority"],
    ),
    "Tenant": _object(
        {
            "id": _ID,
            "createdTime": _INT,
            "title": _STRING,
            "region": _NULLABLE_STRING,
            **_CONTACT,
            "additionalInfo": _ANY_OBJECT,
        },
        ["title"],
    ),
    "Customer": _object(
        {
            "id": _ID,
            "createdTime": _INT,
            "tenantId": _ID,
            "title": _STRING,
            **_CONTACT,
            "additionalInfo": _ANY_OBJECT,
        },
        ["title"],
    ),
    "Device": _object(
        {
            "id": _ID,
            "createdTime": _INT,
            "tenantId": _ID,
            "customerId": _ID,
            "name": _STRING,
            "type": _STRING,
            "label": _NULLABLE_STRING,
            "deviceProfileId": _ID,
            "firmwareId": _ID,
            "softwareId": _ID,
            "deviceData": _ANY_OBJECT,
            "additionalInfo": _ANY_OBJECT,
        },
        ["name"],
    ),
    "DeviceCredentials": _object(
        {
            "id": _ID,
            "deviceId": _ID,
            "credentialsType": {"enum": ["ACCESS_TOKEN"]},
            "credentialsId": _STRING,
        },
        ["deviceId", "credentialsId"],
    ),
    "DeviceProfile": _object(
        {
            "id": _ID,
            "createdTime": _INT,
            "tenantId": _ID,
            "name": _STRING,
            "description": _NULLABLE_STRING,
            "default": {"type": "boolean"},
            "type": _STRING,
            "transportType": _STRING,
            "provisionType": _STRING,
            "profileData": _ANY_OBJECT,
            "firmwareId": _ID,
            "softwareId": _ID,
        },
        ["name"],
    ),
    "DeviceProfileInfo": _object(
        {"id": _ID, "tenantId": _ID, "name": _STRING, "type": _STRING, "transportType": _STRING}
    ),
    "SaveOtaPackageInfoRequest": _object(
        {**_PACKAGE_INFO, "usesUrl": {"type": "boolean"}},
        ["title", "version", "type", "deviceProfileId"],
    ),
    "OtaPackageInfo": _object(_PACKAGE_INFO),
    "OtaPackage": _object(
        {**_PACKAGE_INFO, "data": {"type": ["string", "null"], "contentEncoding": "base64"}}
    ),
    "AuditLog": _object(
        {
            "id": _ID,
            "createdTime": _INT,
            "tenantId": _ID,
            "customerId": _ID,
            "entityId": _ID,
            "entityName": _NULLABLE_STRING,
            "userId": _ID,
            "userName": _NULLABLE_STRING,
            "actionType": _STRING,
            "actionData": _ANY_OBJECT,
            "actionStatus": {"enum": ["SUCCESS", "FAILURE"]},
            "actionFailureDetails": _NULLABLE_STRING,
        }
    ),
    "AttributesBody": {"type": "object", "additionalProperties": True},
    "AttributeList": {
        "type": "array",
        "items": _object({"key": _STRING, "value": {}, "lastUpdateTs": _INT}),
    },
    "TimeseriesMap": {
        "type": "object",
        "additionalProperties": {"type": "array", "items": _object({"ts": _INT, "value": {}})},
    },
    "KeyList": {"type": "array", "items": _STRING},
    "DashboardCounts": _object(
        {
            name: {"type": "integer"}
            for name in ("waiting", "updating", "updated", "failed", "total")
        }
    ),
    "DashboardDevices": _object(
        {
            "data": {
                "type": "array",
                "items": _object(
                    {
                        "deviceId": _ID,
                        "deviceName": _STRING,
                        "currentTitle": {},
                        "currentVersion": {},
                        "targetTitle": _NULLABLE_STRING,
                        "targetVersion": _NULLABLE_STRING,
                        "status": _NULLABLE_STRING,
                        "progress": {"type": ["integer", "null"]},
                        "lastChange": {"type": ["integer", "null"]},
                        "error": _NULLABLE_STRING,
                        "retries": {"type": "integer"},
                        "finished": {"type": "boolean"},
                    }
                ),
            },
            "totalPages": {"type": "integer"},
            "totalElements": _INT,
            "hasNext": {"type": "boolean"},
        }
    ),
    "UpdateHistory": {
        "type": "array",
        "items": _object({"ts": _INT, "status": _STRING, "error": _NULLABLE_STRING}),
    },
    "DeviceAttributes": _object({"client": {"type": "object"}, "shared": {"type": "object"}}),
}
for _item in (
    "User",
    "Tenant",
    "Customer",
    "Device",
    "DeviceProfile",
    "DeviceProfileInfo",
    "OtaPackageInfo",
    "AuditLog",
):
    SCHEMAS[f"PageData{_item}"] = _object(
        {
            "data": {"type": "array", "items": _ref(_item)},
            "totalPages": {"type": "integer"},
            "totalElements": _INT,
            "hasNext": {"type": "boolean"},
        },
        ["data", "totalPages", "totalElements", "hasNext"],
    )

_ERROR = {"content": {"application/json": {"schema": _ref("Error")}}}


def _response(kind: str | None) -> JsonDict:
    if kind is None:
        return {"description": "Done; empty body"}
    if kind == "bytes":
        return {
            "description": "The package data",
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    if kind == "text":
        return {"description": "Text", "content": {"text/plain": {"schema": _STRING}}}
    return {"description": kind, "content": {"application/json": {"schema": _ref(kind)}}}


def _request_body(kind: str) -> JsonDict:
    if kind == "multipart":
        schema = _object(
            {
                "file": {"type": "string", "format": "binary"},
                "checksumAlgorithm": _STRING,
                "checksum": _STRING,
            },
            ["file"],
        )
        return {"required": True, "content": {"multipart/form-data": {"schema": schema}}}
    return {"required": True, "content": {"application/json": {"schema": _ref(kind)}}}


def _operation(op: Operation) -> JsonDict:
    path_params = re.findall(r"{(\w+)}", op.path)
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": _STRING} for name in path_params
    ] + [
        {
            "name": p.name,
            "in": "query",
            "required": p.required,
            "description": p.description,
            "schema": {"type": p.type},
        }
        for p in op.query
    ]
    responses: JsonDict = {"200": _response(op.response)}
    for status, text in {
        400: "Bad request",
        401: "Not logged in",
        403: "Not allowed",
        404: "Not found (or another tenant's)",
        **op.responses,
    }.items():
        responses[str(status)] = {"description": text, **_ERROR}
    document: JsonDict = {
        "summary": op.summary,
        "operationId": op.handler.__module__.rsplit(".", 1)[-1] + "_" + op.handler.__name__,
        "tags": [op.tag],
        "parameters": parameters,
        "responses": responses,
    }
    if op.body:
        document["requestBody"] = _request_body(op.body)
    if op.public:
        document["security"] = []
    return document


def openapi_document(operations: Iterable[Operation]) -> JsonDict:
    paths: JsonDict = {}
    for op in operations:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "otakit",
            "version": __version__,
            "description": "ThingsBoard-compatible firmware and software OTA service",
        },
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "jwt": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Authorization",
                    "description": "Bearer <token from /api/auth/login>",
                }
            },
        },
        "security": [{"jwt": []}],
    }
