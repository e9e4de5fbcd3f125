"""Devices with packages, ready for the device API tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

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

    With `announce`, the package's shared attributes (fw_title, fw_size, ...) are written too, as
    the update queue does when it notifies the device.
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
    if announce:
        announce_package(tenant, provisioned)
    return provisioned


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
