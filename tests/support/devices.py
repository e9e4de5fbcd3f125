"""Devices with packages, ready for the device API tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from otatarget.waiting import wait_until

from tests.conftest import TenantContext
from tests.support.api import entity_id


@dataclass
class Provisioned:
    device: dict[str, Any]
    token: str
    package: dict[str, Any]
    data: bytes

    @property
    def device_id(self) -> str:
        return str(self.device["id"]["id"])

    @property
    def title(self) -> str:
        return str(self.package["title"])

    @property
    def version(self) -> str:
        return str(self.package["version"])


def provision(
    tenant: TenantContext,
    data: bytes,
    package_type: str = "FIRMWARE",
    algorithm: str = "SHA256",
    announce: bool = False,
) -> Provisioned:
    """A new device whose own package of `package_type` holds `data`.

    Returns once the update queue has notified the device (its `fw_*` attributes are written), so
    that no later push of the queue surprises a test. With `announce`, the attributes are also
    written through the REST API, as a script would.
    """
    suffix = uuid.uuid4().hex[:8]
    package = tenant.api.create_package(
        tenant.default_profile_id, f"{package_type.lower()}-{suffix}", "1.0", package_type
    )
    package = tenant.api.upload(package["id"]["id"], data, algorithm)
    token = f"token-{suffix}"
    field = "firmwareId" if package_type == "FIRMWARE" else "softwareId"
    device = tenant.api.create_device(
        f"device-{suffix}",
        tenant.default_profile_id,
        token=token,
        **{field: entity_id("OTA_PACKAGE", package["id"]["id"])},
    )
    provisioned = Provisioned(device, token, package, data)
    prefix = "fw" if package_type == "FIRMWARE" else "sw"
    wait_until(
        lambda: (
            shared_attributes(tenant, provisioned.device_id).get(f"{prefix}_title")
            == package["title"]
        ),
        "the update queue to notify the device",
    )
    if announce:
        announce_package(tenant, provisioned)
    return provisioned


def shared_attributes(tenant: TenantContext, device_id: str) -> dict[str, Any]:
    found = tenant.api.get(
        f"/api/plugins/telemetry/DEVICE/{device_id}/values/attributes/SHARED_SCOPE"
    )
    return {a["key"]: a["value"] for a in found}


def announce_package(tenant: TenantContext, provisioned: Provisioned) -> None:
    prefix = "fw" if provisioned.package["type"] == "FIRMWARE" else "sw"
    package = provisioned.package
    tenant.api.post(
        f"/api/plugins/telemetry/DEVICE/{provisioned.device_id}/SHARED_SCOPE",
        {
            f"{prefix}_title": package["title"],
            f"{prefix}_version": package["version"],
            f"{prefix}_size": package["dataSize"],
            f"{prefix}_checksum": package["checksum"],
            f"{prefix}_checksum_algorithm": package["checksumAlgorithm"],
        },
    )
