"""ThingsBoard's own REST client (PyPI tb-rest-client), unmodified, against otakit."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from tb_rest_client.models import Device, SaveOtaPackageInfoRequest
from tb_rest_client.rest import ApiException
from tb_rest_client.rest_client import RestClient

from tests.conftest import TenantContext

IMAGE = b"\x7fELF firmware for tb-rest-client " + bytes(range(256)) * 64


@pytest.fixture
def client(tenant: TenantContext) -> Iterator[RestClient]:
    rest = RestClient(base_url=tenant.api.url)
    rest.login(username=tenant.admin_email, password="tenant-password")
    yield rest
    rest.logout()


def test_package_lifecycle_with_thingsboards_client(client: RestClient, tmp_path: Path) -> None:
    profile = client.get_device_profile_by_id(client.get_default_device_profile_info().id)
    device = client.save_device(
        Device(name="tb-dev", type=profile.name, device_profile_id=profile.id),
        access_token="tb-token",
    )
    assert client.get_device_credentials_by_device_id(device.id).credentials_id == "tb-token"

    info = client.save_ota_package_info(
        SaveOtaPackageInfoRequest(
            title="tb-fw",
            version="1.0",
            tag="tb-fw 1.0",
            type="FIRMWARE",
            device_profile_id=profile.id,
            uses_url=False,
        )
    )
    assert info.has_data is False
    image = tmp_path / "tb-fw.bin"
    image.write_bytes(IMAGE)
    sha256 = hashlib.sha256(IMAGE).hexdigest()
    info = client.save_ota_package_data(
        info.id, checksum_algorithm="SHA256", file=str(image), checksum=sha256
    )
    assert (info.has_data, info.data_size, info.checksum) == (True, len(IMAGE), sha256)
    assert info.file_name == "tb-fw.bin"

    listed = client.get_ota_packages(
        page_size=10, page=0, text_search="tb-", sort_property="title", sort_order="ASC"
    )
    assert [p.id.id for p in listed.data] == [info.id.id]
    assignable = client.get_ota_packages_v1(profile.id, "FIRMWARE", page_size=10, page=0)
    assert [p.id.id for p in assignable.data] == [info.id.id]
    assert client.get_ota_package_info_by_id(info.id).checksum == sha256
    assert client.download_ota_package(info.id) == IMAGE

    device = client.get_device_by_id(device.id)
    device.firmware_id = info.id
    client.save_device(device)
    assert client.get_device_by_id(device.id).firmware_id.id == info.id.id
    profile = client.get_device_profile_by_id(profile.id)
    profile.firmware_id = info.id
    client.save_device_profile(profile)
    assert client.get_device_profile_by_id(profile.id).firmware_id.id == info.id.id

    with pytest.raises(ApiException) as refused:
        client.delete_ota_package(info.id)
    assert refused.value.status == 400

    # The client leaves None fields out of the body: that is how it unassigns.
    device = client.get_device_by_id(device.id)
    device.firmware_id = None
    client.save_device(device)
    profile = client.get_device_profile_by_id(profile.id)
    profile.firmware_id = None
    client.save_device_profile(profile)
    assert client.get_device_by_id(device.id).firmware_id is None
    assert client.get_device_profile_by_id(profile.id).firmware_id is None

    client.delete_ota_package(info.id)
    with pytest.raises(ApiException) as gone:
        client.get_ota_package_info_by_id(info.id)
    assert gone.value.status == 404


def test_token_refresh_with_thingsboards_client(client: RestClient) -> None:
    before = dict(client.token_info)
    assert before["exp"] > 0  # it read the `exp` claim of otakit's token
    client.refresh()
    # Every refresh token carries its own jti, so a new pair came from the server.
    assert client.token_info["refreshToken"] != before["refreshToken"]
    assert client.get_default_device_profile_info().name == "default"
