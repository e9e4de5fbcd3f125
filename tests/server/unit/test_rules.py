"""Spec §4.1 and §4.5 as pure functions."""

from __future__ import annotations

import uuid

import pytest

from otaserver.domain import rules
from otaserver.domain.enums import ChecksumAlgorithm, OtaPackageType
from otaserver.domain.errors import BadRequest
from otaserver.domain.model import Device, DeviceProfile, OtaPackage

TENANT, PROFILE, OTHER_PROFILE = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
FW = OtaPackageType.FIRMWARE
SW = OtaPackageType.SOFTWARE


def package(**changes: object) -> OtaPackage:
    fields: dict[str, object] = dict(
        id=uuid.uuid4(),
        created_time=1,
        tenant_id=TENANT,
        device_profile_id=PROFILE,
        type=FW,
        title="fw",
        version="1.0",
        data_sha256="ab" * 32,
        data_size=3,
        checksum_algorithm=ChecksumAlgorithm.SHA256,
        checksum="00",
    )
    fields.update(changes)
    return OtaPackage(**fields)  # type: ignore[arg-type]


def device(firmware: uuid.UUID | None = None, software: uuid.UUID | None = None) -> Device:
    return Device(
        id=uuid.uuid4(),
        created_time=1,
        tenant_id=TENANT,
        customer_id=None,
        name="d",
        device_profile_id=PROFILE,
        type="default",
        firmware_id=firmware,
        software_id=software,
    )


def profile(firmware: uuid.UUID | None = None) -> DeviceProfile:
    return DeviceProfile(
        id=PROFILE, created_time=1, tenant_id=TENANT, name="p", firmware_id=firmware
    )


def test_device_package_overrides_profile_package() -> None:
    own, profiles = uuid.uuid4(), uuid.uuid4()
    assert rules.effective_package_id(device(own), profile(profiles), FW) == own
    assert rules.effective_package_id(device(None), profile(profiles), FW) == profiles
    assert rules.effective_package_id(device(None), profile(None), FW) is None
    # Software is resolved on its own: a device's firmware does not hide the profile's software.
    assert rules.effective_package_id(device(own), profile(profiles), SW) is None


def test_assignable_package_passes() -> None:
    p = package()
    assert rules.check_assignable(p, FW, TENANT, PROFILE) is p


def test_url_package_is_assignable_without_data() -> None:
    p = package(data_sha256=None, url="https://example.com/fw.bin")
    assert rules.check_assignable(p, FW, TENANT, PROFILE) is p


@pytest.mark.parametrize(
    ("candidate", "message"),
    [
        (None, "non-existent"),
        (package(tenant_id=uuid.uuid4()), "non-existent"),
        (package(type=SW), "with type: SOFTWARE"),
        (package(data_sha256=None), "empty data"),
        (package(device_profile_id=OTHER_PROFILE), "different deviceProfile"),
    ],
)
def test_unassignable_packages(candidate: OtaPackage | None, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        rules.check_assignable(candidate, FW, TENANT, PROFILE)


@pytest.mark.parametrize(
    "change",
    [
        {"title": "x"},
        {"version": "2"},
        {"type": SW},
        {"tag": "t"},
        {"device_profile_id": OTHER_PROFILE},
        {"url": "https://x"},
    ],
)
def test_fixed_fields_cannot_change(change: dict[str, object]) -> None:
    existing = package(tag="fw 1.0")
    with pytest.raises(BadRequest, match="is prohibited"):
        rules.check_package_update(existing, package(**{**vars(existing), **change}))


def test_additional_info_may_change() -> None:
    existing = package()
    rules.check_package_update(
        existing, package(**{**vars(existing), "additional_info": {"description": "new"}})
    )


@pytest.mark.parametrize("title", ["", "   ", "x" * 256])
def test_title_is_required_and_bounded(title: str) -> None:
    with pytest.raises(BadRequest, match="title"):
        rules.validate_new_package(package(title=title))
