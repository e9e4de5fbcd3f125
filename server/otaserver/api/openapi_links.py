"""OpenAPI links: where the ids of an answer lead next.

ThingsBoard's ids are objects ({"entityType", "id"}), so a client (or schemathesis's stateful
tests) cannot guess that a device's `deviceId` path parameter is the `/id/id` of a Device. The
links say it, for every operation whose path parameters one answer can fill, and send an
entity back to its save operation as ThingsBoard's clients do (GET, change, POST).
"""

from __future__ import annotations

from collections.abc import Mapping

from .schema_parts import JsonDict

# What an answer of each schema provides: JSON pointers into it, or "=value" for a constant.
SOURCES: dict[str, dict[str, str]] = {
    "Device": {
        "deviceId": "/id/id",
        "entityId": "/id/id",
        "entityType": "=DEVICE",
        "deviceProfileId": "/deviceProfileId/id",
        "customerId": "/customerId/id",
    },
    "DeviceProfile": {
        "deviceProfileId": "/id/id",
        "entityId": "/id/id",
        "entityType": "=DEVICE_PROFILE",
    },
    "DeviceProfileInfo": {"deviceProfileId": "/id/id"},
    "OtaPackageInfo": {
        "otaPackageId": "/id/id",
        "entityId": "/id/id",
        "entityType": "=OTA_PACKAGE",
        "deviceProfileId": "/deviceProfileId/id",
        "type": "/type",
    },
    "User": {
        "userId": "/id/id",
        "entityId": "/id/id",
        "entityType": "=USER",
        "tenantId": "/tenantId/id",
        "customerId": "/customerId/id",
    },
    "Tenant": {"tenantId": "/id/id", "entityId": "/id/id", "entityType": "=TENANT"},
    "Customer": {"customerId": "/id/id", "entityId": "/id/id", "entityType": "=CUSTOMER"},
    "DeviceCredentials": {"deviceId": "/deviceId/id", "token": "/credentialsId"},
}
# The request body each answer is sent back to (ThingsBoard's save operations).
SAVED_AS = {
    "Device": "DeviceRequest",
    "DeviceProfile": "DeviceProfileRequest",
    "OtaPackageInfo": "SaveOtaPackageInfoRequest",
    "User": "UserRequest",
    "Tenant": "TenantRequest",
    "Customer": "CustomerRequest",
    "DeviceCredentials": "DeviceCredentialsRequest",
}
_PAGE = "PageData"


def add_links(paths: JsonDict) -> None:
    """Adds to each operation that answers an entity (or a page of them) its links."""
    operations = [operation for methods in paths.values() for operation in methods.values()]
    for source in operations:
        schema = _answer_schema(source)
        if schema is None:
            continue
        entity = schema.removeprefix(_PAGE)
        if entity not in SOURCES:
            continue
        prefix = "/data/0" if schema.startswith(_PAGE) else ""
        links: JsonDict = {}
        for target in operations:
            link = _link(SOURCES[entity], prefix, target)
            if link is None and not prefix and target.get("requestBody"):
                link = _body_link(entity, target)
            if link is not None:
                links[target["operationId"]] = link
        if links:
            source["responses"]["200"]["links"] = links


def _answer_schema(operation: JsonDict) -> str | None:
    content = operation["responses"]["200"].get("content", {}).get("application/json")
    ref = content["schema"].get("$ref", "") if content else ""
    return ref.rsplit("/", 1)[-1] or None


def _link(provides: Mapping[str, str], prefix: str, target: JsonDict) -> JsonDict | None:
    """A link filling every path parameter of `target`, with at least one from the answer."""
    path_params = [p for p in target["parameters"] if p["in"] == "path"]
    if not path_params:
        return None
    values: JsonDict = {}
    for param in path_params:
        name, allowed = param["name"], param["schema"].get("enum")
        source = provides.get(name)
        if source is None:
            if not allowed:
                return None
            values[name] = allowed[0]  # a scope, say: any value the operation takes
        elif source.startswith("="):
            if allowed and source[1:] not in allowed:
                return None
            values[name] = source[1:]
        else:
            values[name] = f"$response.body#{prefix}{source}"
    if not any(str(v).startswith("$response") for v in values.values()):
        return None
    return {"operationId": target["operationId"], "parameters": values}


def _body_link(entity: str, target: JsonDict) -> JsonDict | None:
    body = target["requestBody"]["content"].get("application/json", {}).get("schema", {})
    if body.get("$ref", "").rsplit("/", 1)[-1] != SAVED_AS.get(entity):
        return None
    return {"operationId": target["operationId"], "requestBody": "$response.body"}
