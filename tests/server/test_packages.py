"""OTA packages through the REST API (spec §4.5, §5, §7)."""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from otaserver.blobs.digests import checksum_of
from otaserver.domain.enums import ChecksumAlgorithm
from tests.conftest import TenantContext
from tests.support.api import assert_error, entity_id

DATA = bytes(range(256)) * 40 + b"tail"


def new_package(tenant: TenantContext, data: bytes | None = DATA, **extra: object) -> dict:
    package = tenant.api.create_package(
        tenant.default_profile_id, f"fw-{uuid.uuid4().hex[:6]}", "1.0", **extra
    )
    if data is not None:
        package = tenant.api.upload(package["id"]["id"], data)
    return package


def test_create_info_has_no_data_yet(tenant: TenantContext) -> None:
    package = tenant.api.create_package(
        tenant.default_profile_id,
        "fw",
        "1.0",
        tag="fw 1.0",
        additionalInfo={"description": "first"},
    )
    assert package["id"]["entityType"] == "OTA_PACKAGE"
    assert package["hasData"] is False
    assert package["name"] == package["title"] == "fw"
    assert package["tag"] == "fw 1.0"
    assert package["tenantId"] == entity_id("TENANT", tenant.tenant_id)
    assert package["deviceProfileId"] == entity_id("DEVICE_PROFILE", tenant.default_profile_id)
    assert package["additionalInfo"] == {"description": "first"}
    assert package["checksum"] is None and package["dataSize"] is None


def test_title_and_version_are_unique_per_tenant(
    tenant: TenantContext, new_tenant: Callable[[], TenantContext]
) -> None:
    tenant.api.create_package(tenant.default_profile_id, "same", "1.0")
    response = tenant.api.request(
        "POST",
        "/api/otaPackage",
        400,
        json={
            "title": "same",
            "version": "1.0",
            "type": "SOFTWARE",
            "deviceProfileId": entity_id("DEVICE_PROFILE", tenant.default_profile_id),
        },
    )
    assert response.json()["message"] == "OtaPackage with such title and version already exists!"
    tenant.api.create_package(tenant.default_profile_id, "same", "1.1")
    other = new_tenant()
    other.api.create_package(other.default_profile_id, "same", "1.0")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"version": "1", "type": "FIRMWARE"}, "title should be specified"),
        ({"title": "t", "type": "FIRMWARE"}, "version should be specified"),
        ({"title": "t", "version": "1"}, "Type of OtaPackage should be specified"),
        ({"title": "t", "version": "1", "type": "BOOTLOADER"}, "FIRMWARE or SOFTWARE"),
        ({"title": "x" * 256, "version": "1", "type": "FIRMWARE"}, "at most 255"),
    ],
)
def test_invalid_package_info(tenant: TenantContext, body: dict, message: str) -> None:
    body = {"deviceProfileId": entity_id("DEVICE_PROFILE", tenant.default_profile_id), **body}
    response = tenant.api.request("POST", "/api/otaPackage", 400, json=body)
    assert message in response.json()["message"]


def test_package_needs_a_profile_of_the_tenant(
    tenant: TenantContext, new_tenant: Callable[[], TenantContext]
) -> None:
    body = {"title": "t", "version": "1", "type": "FIRMWARE"}
    response = tenant.api.request("POST", "/api/otaPackage", 400, json=body)
    assert "device profile" in response.json()["message"]
    foreign = new_tenant().default_profile_id
    body["deviceProfileId"] = entity_id("DEVICE_PROFILE", foreign)
    assert_error(tenant.api.http.post("/api/otaPackage", json=body), 400, "non-existent")


@pytest.mark.parametrize("algorithm", list(ChecksumAlgorithm))
@pytest.mark.parametrize("given", [False, True], ids=["computed", "given"])
def test_upload_with_each_algorithm(
    tenant: TenantContext, algorithm: ChecksumAlgorithm, given: bool
) -> None:
    expected = checksum_of(algorithm, DATA)
    package = tenant.api.create_package(tenant.default_profile_id, "fw", "1.0")
    info = tenant.api.upload(
        package["id"]["id"], DATA, algorithm.value, expected if given else None, "image.bin"
    )
    assert info["checksumAlgorithm"] == algorithm.value
    assert info["checksum"] == expected
    assert info["dataSize"] == len(DATA)
    assert info["fileName"] == "image.bin"
    assert info["contentType"] == "application/octet-stream"
    assert info["hasData"] is True


def test_crc32_given_in_the_spec_example(tenant: TenantContext) -> None:
    package = tenant.api.create_package(tenant.default_profile_id, "crc", "1.0")
    info = tenant.api.upload(package["id"]["id"], b"123456789", "CRC32", "2639f4cb")
    assert info["checksum"] == "2639f4cb"


def test_upload_without_algorithm_uses_sha256(tenant: TenantContext) -> None:
    package = tenant.api.create_package(tenant.default_profile_id, "fw", "1.0")
    info = tenant.api.upload(package["id"]["id"], DATA, algorithm=None)
    assert info["checksumAlgorithm"] == "SHA256"
    assert info["checksum"] == hashlib.sha256(DATA).hexdigest()


def test_algorithm_and_checksum_as_form_fields(tenant: TenantContext) -> None:
    package = tenant.api.create_package(tenant.default_profile_id, "fw", "1.0")
    response = tenant.api.http.post(
        f"/api/otaPackage/{package['id']['id']}",
        data={"checksumAlgorithm": "md5", "checksum": hashlib.md5(DATA).hexdigest()},
        files={"file": ("a.bin", DATA, "application/x-firmware")},
    )
    assert response.status_code == 200, response.text
    assert response.json()["checksumAlgorithm"] == "MD5"
    assert response.json()["contentType"] == "application/x-firmware"


def test_wrong_checksum_stores_nothing(
    tenant: TenantContext, blob_files: Callable[[], list[Path]]
) -> None:
    before = blob_files()
    package = tenant.api.create_package(tenant.default_profile_id, "fw", "1.0")
    wrong = hashlib.sha256(b"other bytes").hexdigest()
    response = tenant.api.request(
        "POST",
        f"/api/otaPackage/{package['id']['id']}",
        400,
        params={"checksumAlgorithm": "SHA256", "checksum": wrong},
        files={"file": ("fw.bin", DATA + uuid.uuid4().bytes)},
    )
    assert response.json()["message"].startswith("Wrong otaPackage file!")
    info = tenant.api.get(f"/api/otaPackage/info/{package['id']['id']}")
    assert info["hasData"] is False and info["checksum"] is None
    assert blob_files() == before


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"checksumAlgorithm": "SHA1"}, "Unknown checksumAlgorithm"),
        ({"checksumAlgorithm": "CRC32", "checksum": "0xcbf43926"}, "not a CRC32 checksum"),
    ],
)
def test_bad_checksum_parameters(tenant: TenantContext, params: dict, message: str) -> None:
    package = tenant.api.create_package(tenant.default_profile_id, "fw", "1.0")
    response = tenant.api.http.post(
        f"/api/otaPackage/{package['id']['id']}", params=params, files={"file": ("f", DATA)}
    )
    assert_error(response, 400, message)


def test_upload_needs_a_file_part(tenant: TenantContext) -> None:
    package = tenant.api.create_package(tenant.default_profile_id, "fw", "1.0")
    path = f"/api/otaPackage/{package['id']['id']}"
    assert_error(
        tenant.api.http.post(path, data={"other": "x"}, files={"notfile": ("f", b"x")}),
        400,
        "'file' is not present",
    )
    assert_error(tenant.api.http.post(path, content=b"raw"), 400, "multipart/form-data")


def test_an_empty_file_is_no_package(tenant: TenantContext) -> None:
    """A 0-byte image updates nothing; it is refused rather than stored (issue 10)."""
    package = tenant.api.create_package(tenant.default_profile_id, "empty", "1.0")
    tenant.api.upload(package["id"]["id"], b"", "CRC32", expect=400)
    assert tenant.api.get(f"/api/otaPackage/info/{package['id']['id']}")["hasData"] is False


def test_data_cannot_be_replaced(tenant: TenantContext) -> None:
    package = new_package(tenant)
    response = tenant.api.http.post(
        f"/api/otaPackage/{package['id']['id']}", files={"file": ("f", b"new")}
    )
    assert_error(response, 400, "Updating otaPackage data is prohibited!")
    download = tenant.api.request("GET", f"/api/otaPackage/{package['id']['id']}/download")
    assert download.content == DATA


@pytest.mark.parametrize(
    ("field", "value"),
    [("title", "renamed"), ("version", "9.9"), ("type", "SOFTWARE"), ("tag", "other")],
)
def test_fields_are_fixed_once_set(tenant: TenantContext, field: str, value: str) -> None:
    package = new_package(tenant, tag="fw tag")
    response = tenant.api.http.post("/api/otaPackage", json={**package, field: value})
    assert_error(response, 400, f"Updating otaPackage {field} is prohibited!")
    assert tenant.api.get(f"/api/otaPackage/info/{package['id']['id']}") == package


def test_profile_is_fixed_once_set(tenant: TenantContext) -> None:
    package = new_package(tenant)
    other = tenant.api.create_profile("other")
    response = tenant.api.http.post(
        "/api/otaPackage", json={**package, "deviceProfileId": other["id"]}
    )
    assert_error(response, 400, "Updating otaPackage deviceProfile is prohibited!")


def test_description_stays_editable(tenant: TenantContext) -> None:
    package = new_package(tenant)
    updated = tenant.api.post(
        "/api/otaPackage", {**package, "additionalInfo": {"description": "edited"}}
    )
    assert updated["additionalInfo"] == {"description": "edited"}
    assert updated["checksum"] == package["checksum"]
    stored = tenant.api.get(f"/api/otaPackage/info/{package['id']['id']}")
    assert stored["additionalInfo"] == {"description": "edited"}


def test_url_package(tenant: TenantContext) -> None:
    package = tenant.api.create_package(
        tenant.default_profile_id, "remote", "1.0", usesUrl=True, url="https://cdn.example/fw.bin"
    )
    assert package["hasData"] is True and package["url"] == "https://cdn.example/fw.bin"
    path = f"/api/otaPackage/{package['id']['id']}"
    assert_error(tenant.api.http.post(path, files={"file": ("f", b"x")}), 400, "URL package")
    assert_error(tenant.api.http.get(path + "/download"), 400, "URL package")
    response = tenant.api.http.post(
        "/api/otaPackage",
        json={
            "title": "r2",
            "version": "1",
            "type": "FIRMWARE",
            "usesUrl": True,
            "deviceProfileId": entity_id("DEVICE_PROFILE", tenant.default_profile_id),
        },
    )
    assert_error(response, 400, "URL should be specified")


def test_listing_pages_search_and_sort(tenant: TenantContext) -> None:
    for title in ("alpha", "Beta", "gamma", "beta-debug", "delta"):
        tenant.api.create_package(tenant.default_profile_id, title, "1.0")
    page = tenant.api.get(
        "/api/otaPackages", params={"pageSize": 2, "page": 0, "sortProperty": "title"}
    )
    assert page["totalElements"] == 5 and page["totalPages"] == 3 and page["hasNext"] is True
    last = tenant.api.get(
        "/api/otaPackages", params={"pageSize": 2, "page": 2, "sortProperty": "title"}
    )
    assert last["hasNext"] is False and len(last["data"]) == 1
    found = tenant.api.get(
        "/api/otaPackages",
        params={
            "pageSize": 10,
            "page": 0,
            "textSearch": "BETA",
            "sortProperty": "title",
            "sortOrder": "DESC",
        },
    )
    assert [p["title"] for p in found["data"]] == ["beta-debug", "Beta"]
    newest = tenant.api.get(
        "/api/otaPackages",
        params={"pageSize": 1, "page": 0, "sortProperty": "createdTime", "sortOrder": "DESC"},
    )
    assert newest["data"][0]["title"] == "delta"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"page": 0}, "'pageSize' is not present"),
        ({"pageSize": 0, "page": 0}, "at least 1"),
        ({"pageSize": "ten", "page": 0}, "must be an integer"),
        ({"pageSize": 5, "page": 0, "sortProperty": "secret"}, "Unsupported sortProperty"),
        ({"pageSize": 5, "page": 0, "sortOrder": "UP"}, "ASC or DESC"),
    ],
)
def test_bad_paging(tenant: TenantContext, params: dict, message: str) -> None:
    assert_error(tenant.api.http.get("/api/otaPackages", params=params), 400, message)


def test_assignable_list_has_only_packages_with_data_of_that_profile_and_type(
    tenant: TenantContext,
) -> None:
    other_profile = tenant.api.create_profile("other")["id"]["id"]
    with_data = new_package(tenant)
    new_package(tenant, data=None)
    url = new_package(tenant, data=None, usesUrl=True, url="https://x/fw")
    software = tenant.api.create_package(tenant.default_profile_id, "sw", "1", "SOFTWARE")
    tenant.api.upload(software["id"]["id"], b"sw")
    foreign = tenant.api.create_package(other_profile, "elsewhere", "1")
    tenant.api.upload(foreign["id"]["id"], b"x")
    params = {"pageSize": 10, "page": 0}
    listed = tenant.api.get(f"/api/otaPackages/{tenant.default_profile_id}/FIRMWARE", params=params)
    assert {p["id"]["id"] for p in listed["data"]} == {with_data["id"]["id"], url["id"]["id"]}
    listed_sw = tenant.api.get(
        f"/api/otaPackages/{tenant.default_profile_id}/SOFTWARE", params=params
    )
    assert [p["id"]["id"] for p in listed_sw["data"]] == [software["id"]["id"]]


def test_download_bytes_and_headers(tenant: TenantContext) -> None:
    package = tenant.api.create_package(tenant.default_profile_id, "fw", "1.0")
    tenant.api.upload(package["id"]["id"], DATA, file_name="firmware-1.0.bin")
    response = tenant.api.request("GET", f"/api/otaPackage/{package['id']['id']}/download")
    assert response.content == DATA
    assert response.headers["content-length"] == str(len(DATA))
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"] == "attachment;filename=firmware-1.0.bin"
    assert response.headers["x-filename"] == "firmware-1.0.bin"


def test_download_resumes_with_range(tenant: TenantContext) -> None:
    package = new_package(tenant)
    response = tenant.api.http.get(
        f"/api/otaPackage/{package['id']['id']}/download", headers={"Range": "bytes=100-"}
    )
    assert response.status_code == 206
    assert response.content == DATA[100:]
    assert response.headers["content-range"] == f"bytes 100-{len(DATA) - 1}/{len(DATA)}"


def test_package_with_data_in_base64(tenant: TenantContext) -> None:
    package = new_package(tenant)
    full = tenant.api.get(f"/api/otaPackage/{package['id']['id']}")
    assert base64.b64decode(full.pop("data")) == DATA
    assert full == package
    empty = new_package(tenant, data=None)
    assert tenant.api.get(f"/api/otaPackage/{empty['id']['id']}")["data"] is None


def test_delete_is_refused_while_referenced(
    tenant: TenantContext, blob_files: Callable[[], list[Path]]
) -> None:
    unique = DATA + uuid.uuid4().bytes
    package = new_package(tenant, data=None)
    package_id = package["id"]["id"]
    tenant.api.upload(package_id, unique)
    blob = [p for p in blob_files() if p.name == hashlib.sha256(unique).hexdigest()]
    assert len(blob) == 1
    device = tenant.api.create_device(
        "d1", tenant.default_profile_id, firmwareId=entity_id("OTA_PACKAGE", package_id)
    )
    assert_error(
        tenant.api.http.delete(f"/api/otaPackage/{package_id}"),
        400,
        "The otaPackage referenced by the devices cannot be deleted!",
    )
    tenant.api.post("/api/device", {**device, "firmwareId": None})
    profile = tenant.api.get(f"/api/deviceProfile/{tenant.default_profile_id}")
    tenant.api.post(
        "/api/deviceProfile", {**profile, "firmwareId": entity_id("OTA_PACKAGE", package_id)}
    )
    assert_error(
        tenant.api.http.delete(f"/api/otaPackage/{package_id}"),
        400,
        "The otaPackage referenced by the device profile cannot be deleted!",
    )
    tenant.api.post("/api/deviceProfile", {**profile, "firmwareId": None})
    tenant.api.delete(f"/api/otaPackage/{package_id}")
    assert_error(tenant.api.http.get(f"/api/otaPackage/info/{package_id}"), 404)
    assert not blob[0].exists()


def test_identical_data_is_stored_once_and_kept_while_used(
    tenant: TenantContext, blob_files: Callable[[], list[Path]]
) -> None:
    shared = b"shared image " + uuid.uuid4().bytes
    first, second = new_package(tenant, shared), new_package(tenant, shared)
    name = hashlib.sha256(shared).hexdigest()
    assert [p.name for p in blob_files()].count(name) == 1
    tenant.api.delete(f"/api/otaPackage/{first['id']['id']}")
    assert [p.name for p in blob_files()].count(name) == 1
    download = tenant.api.request("GET", f"/api/otaPackage/{second['id']['id']}/download")
    assert download.content == shared
    tenant.api.delete(f"/api/otaPackage/{second['id']['id']}")
    assert name not in [p.name for p in blob_files()]
