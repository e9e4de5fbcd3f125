"""The OpenAPI document's request schemas: each field as the form that reads it checks it.

The fields the server owns (createdTime, tenantId...) are left out: sent anyway, they are
ignored, as ThingsBoard's clients send back whole entities. Every other field a body carries is
parsed too, so the schemas say of it what parse_json refuses: a NUL in any string or key.
"""

from __future__ import annotations

from ..domain.checksums import MAX_CHECKSUM_LENGTH
from ..domain.enums import Authority, ChecksumAlgorithm, OtaPackageType
from ..domain.inputs import InputLimits
from ..domain.rules import MAX_TOKEN_LENGTH
from ..domain.telemetry import MAX_KEY_LENGTH, MAX_TS
from ..services.passwords import MIN_PASSWORD_LENGTH
from .forms import URL_LENGTH
from .schema_parts import (
    KEY,
    NOT_NUL,
    STORABLE,
    WHITE_SPACE,
    JsonDict,
    id_input,
    nullable,
    required_id_input,
    text,
)
from .views import CONTACT_FIELDS, PROFILE_ENUMS, PROFILE_IDS, PROFILE_TEXTS

# Any JSON a client may send (what StorableJson stands for).
_STORABLE_JSON: JsonDict = {
    "type": ["null", "boolean", "number", "string", "array", "object"],
    "pattern": f"^{NOT_NUL}*$",
    "items": STORABLE,
    "propertyNames": KEY,
    "additionalProperties": STORABLE,
}
_STORABLE_OBJECT = {
    "type": ["object", "null"],
    "propertyNames": KEY,
    "additionalProperties": STORABLE,
}


def _form(properties: JsonDict, required: tuple[str, ...] = ()) -> JsonDict:
    """An object the server reads: these fields checked, any other ignored (but parsed)."""
    schema: JsonDict = {
        "type": "object",
        "properties": properties,
        "propertyNames": KEY,
        "additionalProperties": STORABLE,
    }
    if required:
        schema["required"] = list(required)
    return schema


def request_schemas(limits: InputLimits) -> JsonDict:
    name = text(limits.max_name_length, nonblank=True)
    optional_name = nullable(text(limits.max_name_length))
    long_text = text()
    password = {**text(), "minLength": MIN_PASSWORD_LENGTH}
    contact = dict.fromkeys(CONTACT_FIELDS, optional_name)
    telemetry_values: JsonDict = {
        "type": "object",
        "propertyNames": {**text(MAX_KEY_LENGTH), "minLength": 1},
        "additionalProperties": STORABLE,
        "maxProperties": limits.max_keys,
    }
    has_url = f"^{NOT_NUL}*[^\\u0000{WHITE_SPACE}]{NOT_NUL}*$"
    blank_url = {"type": ["string", "null"], "pattern": f"^[{WHITE_SPACE}]*$"}
    return {
        "StorableJson": _STORABLE_JSON,
        "LoginRequest": _form({"username": name, "password": long_text}, ("username", "password")),
        "RefreshRequest": _form({"refreshToken": text(nonblank=True)}, ("refreshToken",)),
        "ChangePasswordRequest": _form(
            {"currentPassword": long_text, "newPassword": password},
            ("currentPassword", "newPassword"),
        ),
        "ActivateRequest": _form(
            {"activateToken": text(nonblank=True), "password": password},
            ("activateToken", "password"),
        ),
        "UserRequest": _form(
            {
                "id": id_input("USER"),
                "email": {
                    "type": "string",
                    "pattern": f"^{NOT_NUL}*@{NOT_NUL}*$",
                    "maxLength": limits.max_name_length,
                },
                "authority": {"enum": [a.value for a in Authority]},
                "tenantId": id_input("TENANT"),
                "customerId": id_input("CUSTOMER"),
                "firstName": optional_name,
                "lastName": optional_name,
                "additionalInfo": _STORABLE_OBJECT,
            },
            ("email", "authority"),
        ),
        "TenantRequest": _form(
            {
                "id": id_input("TENANT"),
                "title": name,
                "region": optional_name,
                **contact,
                "additionalInfo": _STORABLE_OBJECT,
            },
            ("title",),
        ),
        "CustomerRequest": _form(
            {
                "id": id_input("CUSTOMER"),
                "title": name,
                **contact,
                "additionalInfo": _STORABLE_OBJECT,
            },
            ("title",),
        ),
        "DeviceRequest": _form(
            {
                "id": id_input("DEVICE"),
                "name": name,
                "deviceProfileId": id_input("DEVICE_PROFILE"),
                "type": optional_name,
                "label": optional_name,
                "firmwareId": id_input("OTA_PACKAGE"),
                "softwareId": id_input("OTA_PACKAGE"),
                "deviceData": _STORABLE_OBJECT,
                "additionalInfo": _STORABLE_OBJECT,
            },
            ("name",),
        ),
        "DeviceCredentialsRequest": _form(
            {
                "deviceId": required_id_input("DEVICE"),
                "credentialsType": {"enum": ["ACCESS_TOKEN", None]},
                "credentialsId": access_token(),
            },
            ("deviceId", "credentialsId"),
        ),
        "SaveDeviceWithCredentialsRequest": _form(
            {
                "device": {"$ref": "#/components/schemas/DeviceRequest"},
                "credentials": _form(
                    {
                        "credentialsType": {"enum": ["ACCESS_TOKEN", None]},
                        "credentialsId": access_token(),
                    },
                    ("credentialsId",),
                ),
            },
            ("device", "credentials"),
        ),
        "DeviceProfileRequest": _form(
            {
                "id": id_input("DEVICE_PROFILE"),
                "name": name,
                "description": nullable(long_text),
                "default": {"type": ["boolean", "null"]},
                "firmwareId": id_input("OTA_PACKAGE"),
                "softwareId": id_input("OTA_PACKAGE"),
                **{key: nullable({"enum": values}) for key, values in PROFILE_ENUMS.items()},
                "profileData": _STORABLE_OBJECT,
                "image": nullable(long_text),
                **{key: optional_name for key in PROFILE_TEXTS if key != "image"},
                **dict.fromkeys(PROFILE_IDS, _STORABLE_OBJECT),
            },
            ("name",),
        ),
        "SaveOtaPackageInfoRequest": {
            **_form(
                {
                    "id": id_input("OTA_PACKAGE"),
                    "type": {"enum": [t.value for t in OtaPackageType]},
                    "deviceProfileId": required_id_input("DEVICE_PROFILE"),
                    "title": name,
                    "version": name,
                    "tag": optional_name,
                    "url": nullable({**long_text, "maxLength": URL_LENGTH}),
                    "usesUrl": {"type": ["boolean", "null"]},
                    "additionalInfo": _STORABLE_OBJECT,
                },
                ("type", "deviceProfileId", "title", "version"),
            ),
            # usesUrl true needs a url; false (or null) refuses one; left out, a url decides.
            "allOf": [
                {
                    "if": {"properties": {"usesUrl": {"const": True}}, "required": ["usesUrl"]},
                    "then": {
                        "properties": {"url": {"type": "string", "pattern": has_url}},
                        "required": ["url"],
                    },
                },
                {
                    "if": {
                        "properties": {"usesUrl": {"enum": [False, None]}},
                        "required": ["usesUrl"],
                    },
                    "then": {"properties": {"url": blank_url}},
                },
            ],
        },
        "PackageData": _form(
            {
                "checksumAlgorithm": checksum_algorithm(),
                "checksum": checksum(),
                "file": {"type": "string", "format": "binary", "minLength": 1},
            },
            ("file",),
        ),
        "AttributesBody": telemetry_values,
        "TelemetryBody": _telemetry(telemetry_values, limits),
    }


def _telemetry(values: JsonDict, limits: InputLimits) -> JsonDict:
    """A flat object, {"ts", "values"}, or an array of either (domain.telemetry)."""
    entry = {
        "if": {"type": "object", "required": ["ts", "values"]},
        "then": {
            "properties": {
                "ts": {"type": "integer", "minimum": 0, "maximum": MAX_TS},
                "values": values,
            },
            "propertyNames": KEY,
            "additionalProperties": STORABLE,
        },
        "else": values,
    }
    return {"anyOf": [entry, {"type": "array", "items": entry, "maxItems": limits.max_keys}]}


def access_token(empty: bool = False) -> JsonDict:
    """A device's access token: 1 to 255 characters, no '/', no white space."""
    return {
        "type": "string",
        "pattern": f"^[^/\\u0000{WHITE_SPACE}]{{{0 if empty else 1},{MAX_TOKEN_LENGTH}}}$",
    }


def _any_case(word: str) -> str:
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in word)


def checksum_algorithm() -> JsonDict:
    """An algorithm's name in any case, with white space around it (domain.checksums)."""
    names = "|".join(_any_case(a.value) for a in ChecksumAlgorithm)
    return {"type": "string", "pattern": f"^[{WHITE_SPACE}]*({names})[{WHITE_SPACE}]*$"}


def checksum() -> JsonDict:
    """Blank (computed by the server) or hex digits of one algorithm's length; which
    algorithm's, schemas cannot say, as the algorithm may come in another parameter."""
    lengths = "|".join(f"[0-9a-fA-F]{{{n}}}" for n in (8, 32, 64, 96, 128))
    return {
        "type": "string",
        "pattern": f"^[{WHITE_SPACE}]*({lengths})?[{WHITE_SPACE}]*$",
        "maxLength": MAX_CHECKSUM_LENGTH,
    }
