"""Helpers of the package checks (packages, downloads, audit): raw bodies and calls that the
checks need to send as a careless or hostile client would, which `Target` does not."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from .target import Entity, Kind, Target

# An uploaded image: longer than one 256-byte period, so a wrong slice of it shows.
IMAGE = bytes(range(256)) * 16


def package_body(profile_id: str, kind: Kind, title: str | None = None, **fields: Any) -> Entity:
    """The JSON of a new package (SaveOtaPackageInfoRequest), as the UI sends it."""
    return {
        "title": title or f"conf-{uuid.uuid4().hex[:8]}",
        "version": "1.0",
        "type": kind.type,
        "deviceProfileId": {"entityType": "DEVICE_PROFILE", "id": profile_id},
        **fields,
    }


def stored(target: Target, package: Entity) -> Entity:
    """The package's OtaPackageInfo as the server has it now."""
    return target.call("GET", f"/api/otaPackage/info/{package['id']['id']}")  # type: ignore[no-any-return]


def upload_file(
    target: Target,
    package: Entity,
    data: bytes,
    file_name: str = "image.bin",
    content_type: str = "application/octet-stream",
    params: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
) -> httpx.Response:
    """An upload with the given query parameters and form fields only (none by default)."""
    return target.http.post(
        f"/api/otaPackage/{package['id']['id']}",
        params=params or {},
        data=form or {},
        files={"file": (file_name, data, content_type)},
    )


def titled(target: Target, title: str) -> list[Entity]:
    """The packages whose title matches `title` (textSearch), at most 50."""
    found = target.call(
        "GET", "/api/otaPackages", params={"pageSize": 50, "page": 0, "textSearch": title}
    )
    return list(found["data"])


# ThingsBoard's refusals, word for word (spec §4.5): scripts match on them.
DUPLICATE_TEXT = "OtaPackage with such title and version already exists!"
WRONG_FILE_TEXT = "Wrong otaPackage file!"
REFERENCED_BY_DEVICE_TEXT = "The otaPackage referenced by the devices cannot be deleted!"
REFERENCED_BY_PROFILE_TEXT = "The otaPackage referenced by the device profile cannot be deleted!"


def message_of(response: httpx.Response) -> str:
    """The `message` of an error answer (ThingsBoard's error shape), or its text."""
    try:
        body = response.json()
    except ValueError:
        return response.text
    return str(body.get("message", "")) if isinstance(body, dict) else response.text
