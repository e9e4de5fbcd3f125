"""Spec §4.5 and §7, and the user guide's Provisioning: the REST package lifecycle and its rules,
for firmware and software alike."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import pytest
from otatarget.rest import client, profile_body

from otaconformance.packaging import (
    DUPLICATE_TEXT,
    IMAGE,
    REFERENCED_BY_DEVICE_TEXT,
    REFERENCED_BY_PROFILE_TEXT,
    message_of,
    package_body,
    stored,
    titled,
    upload_file,
)
from otaconformance.reference import checksum_text
from otaconformance.target import FIRMWARE, KINDS, SOFTWARE, Kind, Target, rule

kinds = pytest.mark.parametrize("kind", KINDS, ids=str)
# The fields of an OtaPackageInfo (§7); `externalId` is left out: older ThingsBoards lack it.
INFO_FIELDS = (
    "id",
    "createdTime",
    "tenantId",
    "deviceProfileId",
    "type",
    "title",
    "version",
    "tag",
    "url",
    "hasData",
    "fileName",
    "contentType",
    "checksumAlgorithm",
    "checksum",
    "dataSize",
    "additionalInfo",
    "name",
)


def other(kind: Kind) -> Kind:
    return SOFTWARE if kind is FIRMWARE else FIRMWARE


def check_info_fields(info: dict[str, Any], when: str) -> None:
    missing = [name for name in INFO_FIELDS if name not in info]
    assert not missing, rule("rest.info-fields", f"{when}: no {', '.join(missing)}")


@pytest.mark.rules(
    "rest.create",
    "rest.info-fields",
    "rest.upload-multipart",
    "rest.algorithm-case-insensitive",
    "package.upload-keeps-file",
    "rest.info-and-full",
    "package.search-by-title",
    "package.download-and-delete",
    "rest.download-headers",
    "rest.delete",
)
@kinds
def test_lifecycle(target: Target, profile: str, kind: Kind) -> None:
    title = f"life-{uuid.uuid4().hex[:6]}"
    info = target.package_info(
        profile, kind, title=title, tag="first tag", additionalInfo={"description": "first"}
    )
    assert info["hasData"] is False and info["title"] == title, rule(
        "rest.create", f"hasData {info['hasData']}, title {info['title']}"
    )
    assert info["id"]["entityType"] == "OTA_PACKAGE", rule("rest.create", f"id {info['id']}")
    assert info.get("name") == title, rule("rest.create", f"name {info.get('name')}")
    check_info_fields(info, "the created package")
    assert (info["type"], info["version"], info["tag"]) == (kind.type, "1.0", "first tag"), rule(
        "rest.info-fields", f"type, version, tag: {info['type']}, {info['version']}, {info['tag']}"
    )
    assert info["deviceProfileId"] == {"entityType": "DEVICE_PROFILE", "id": profile}, rule(
        "rest.info-fields", f"deviceProfileId {info['deviceProfileId']}"
    )
    assert info["tenantId"]["entityType"] == "TENANT" and info["createdTime"] > 0, rule(
        "rest.info-fields", f"tenantId {info['tenantId']}, createdTime {info['createdTime']}"
    )
    assert info["additionalInfo"] == {"description": "first"}, rule(
        "rest.info-fields", f"additionalInfo {info['additionalInfo']}"
    )
    response = upload_file(
        target,
        info,
        IMAGE,
        "fw.bin",
        "application/x-firmware",
        params={"checksumAlgorithm": "sha256"},
    )
    assert response.status_code == 200, rule(
        "rest.upload-multipart", f"got {response.status_code}: {response.text[:200]}"
    )
    info = response.json()
    assert info["hasData"] and info["dataSize"] == len(IMAGE), rule(
        "rest.upload-multipart", f"hasData {info['hasData']}, dataSize {info['dataSize']}"
    )
    check_info_fields(info, "the uploaded package")
    assert info["checksumAlgorithm"] == "SHA256", rule(
        "rest.algorithm-case-insensitive", f"sha256 kept as {info['checksumAlgorithm']}"
    )
    assert (info["fileName"], info["contentType"]) == ("fw.bin", "application/x-firmware"), rule(
        "package.upload-keeps-file", f"kept {info['fileName']}, {info['contentType']}"
    )
    package_id = info["id"]["id"]
    again = stored(target, info)
    differing = [name for name in INFO_FIELDS if again.get(name) != info[name]]
    assert not differing, rule("rest.info-and-full", f"the info GET differs in {differing}")
    full = target.http.get(f"/api/otaPackage/{package_id}")
    assert full.status_code == 200, rule("rest.info-and-full", f"full GET {full.status_code}")
    # hasData aside: whether ThingsBoard's OtaPackage (not its info) fills it in is unsure.
    differing = [
        name for name in INFO_FIELDS if name != "hasData" and full.json().get(name) != info[name]
    ]
    assert not differing, rule("rest.info-and-full", f"the full GET differs in {differing}")
    listed = titled(target, title)
    assert [p["id"] for p in listed] == [info["id"]], rule(
        "package.search-by-title", f"textSearch={title} found {[p['title'] for p in listed]}"
    )
    response = target.http.get(f"/api/otaPackage/{package_id}/download")
    assert response.status_code == 200 and response.content == IMAGE, rule(
        "package.download-and-delete",
        f"download: {response.status_code}, {len(response.content)} bytes",
    )
    assert "fw.bin" in response.headers.get("content-disposition", ""), rule(
        "rest.download-headers",
        f"Content-Disposition {response.headers.get('content-disposition')}",
    )
    response = target.http.delete(f"/api/otaPackage/{package_id}")
    assert response.status_code == 200, rule("rest.delete", f"got {response.status_code}")
    gone = target.http.get(f"/api/otaPackage/info/{package_id}")
    assert gone.status_code == 404, rule("package.download-and-delete", f"got {gone.status_code}")
    assert titled(target, title) == [], rule("rest.delete", "still listed after its deletion")


@pytest.mark.rules("rest.upload-form-fields")
@kinds
def test_checksum_fields_may_be_form_fields(target: Target, profile: str, kind: Kind) -> None:
    crc = checksum_text("CRC32", IMAGE)
    info = target.package_info(profile, kind)
    wrong = upload_file(target, info, IMAGE, form={"checksumAlgorithm": "CRC32", "checksum": "0"})
    assert wrong.status_code == 400, rule(
        "rest.upload-form-fields", f"a wrong checksum as a form field: got {wrong.status_code}"
    )
    response = upload_file(
        target, info, IMAGE, form={"checksumAlgorithm": "CRC32", "checksum": crc}
    )
    assert response.status_code == 200, rule(
        "rest.upload-form-fields", f"got {response.status_code}: {response.text[:200]}"
    )
    got = response.json()
    assert (got["checksumAlgorithm"], got["checksum"]) == ("CRC32", crc), rule(
        "rest.upload-form-fields", f"kept {got['checksumAlgorithm']} {got['checksum']}"
    )


@pytest.mark.otakit_extension
@pytest.mark.rules("package.default-algorithm-sha256")
@kinds
def test_an_upload_without_an_algorithm_gets_sha256(
    target: Target, profile: str, kind: Kind
) -> None:
    info = target.package_info(profile, kind)
    response = upload_file(target, info, IMAGE)
    assert response.status_code == 200, rule(
        "package.default-algorithm-sha256", f"got {response.status_code}: {response.text[:200]}"
    )
    got = response.json()
    expected = ("SHA256", hashlib.sha256(IMAGE).hexdigest())
    assert (got["checksumAlgorithm"], got["checksum"]) == expected, rule(
        "package.default-algorithm-sha256", f"got {got['checksumAlgorithm']} {got['checksum']}"
    )


@pytest.mark.rules("package.title-version-unique", "package.error-texts")
@kinds
def test_title_and_version_are_unique(target: Target, profile: str, kind: Kind) -> None:
    title = f"uniq-{uuid.uuid4().hex[:6]}"
    target.package_info(profile, kind, title=title, version="1.0")
    response = target.http.post("/api/otaPackage", json=package_body(profile, kind, title))
    assert response.status_code == 400, rule(
        "package.title-version-unique", f"the same pair again: got {response.status_code}"
    )
    assert message_of(response).startswith(DUPLICATE_TEXT), rule(
        "package.error-texts", f"a duplicate: {message_of(response)!r}"
    )
    target.package_info(profile, kind, title=title, version="1.1")  # another version, another one
    assert sorted(p["version"] for p in titled(target, title)) == ["1.0", "1.1"], rule(
        "package.title-version-unique", "the refused package was stored"
    )


@pytest.mark.rules("package.unique-across-types")
@kinds
def test_the_unique_pair_ignores_the_type(target: Target, profile: str, kind: Kind) -> None:
    title = f"types-{uuid.uuid4().hex[:6]}"
    target.package_info(profile, kind, title=title)
    response = target.http.post("/api/otaPackage", json=package_body(profile, other(kind), title))
    assert response.status_code == 400, rule(
        "package.unique-across-types",
        f"a {other(kind).type} with a {kind.type}'s title and version: got {response.status_code}",
    )


@pytest.mark.rules("package.unique-case-sensitive")
@kinds
def test_the_unique_pair_is_case_sensitive(target: Target, profile: str, kind: Kind) -> None:
    title = f"Case-{uuid.uuid4().hex[:6].upper()}"
    target.package_info(profile, kind, title=title, version="1.0-rc")
    for other_title, version in ((title.lower(), "1.0-rc"), (title, "1.0-RC")):
        response = target.http.post(
            "/api/otaPackage", json=package_body(profile, kind, other_title, version=version)
        )
        assert response.status_code == 200, rule(
            "package.unique-case-sensitive",
            f"{other_title}/{version} next to {title}/1.0-rc: got {response.status_code}",
        )


@pytest.mark.rules("package.unique-per-tenant-only", kinds=("FIRMWARE", "SOFTWARE"))
def test_another_tenant_may_have_the_same_pair(target: Target, profile: str) -> None:
    if target.sysadmin is None:
        pytest.skip("needs --sysadmin-username and --sysadmin-password to make a second tenant")
    title = f"tenants-{uuid.uuid4().hex[:6]}"
    pairs = ((FIRMWARE, "1.0"), (SOFTWARE, "2.0"))
    for kind, version in pairs:
        target.package_info(profile, kind, title=title, version=version)
    with client(target.url, *target.new_tenant_admin("pairs")) as other_tenant:
        made = other_tenant.post("/api/deviceProfile", json=profile_body(f"conf-{title}"))
        assert made.status_code == 200, f"the other tenant's profile: {made.status_code}"
        their_profile = made.json()["id"]["id"]
        for kind, version in pairs:
            response = other_tenant.post(
                "/api/otaPackage",
                json=package_body(their_profile, kind, title, version=version),
            )
            assert response.status_code == 200, rule(
                "package.unique-per-tenant-only",
                f"{kind.type} {title}/{version}, which only another tenant has: "
                f"got {response.status_code}: {response.text[:200]}",
            )


@pytest.mark.parametrize(
    ("change", "rule_id"),
    [
        ({"title": None}, "package.required-fields"),
        ({"version": None}, "package.required-fields"),
        ({"type": None}, "package.required-fields"),
        ({"title": "t" * 256}, "package.max-length"),
        ({"version": "v" * 256}, "package.max-length"),
        ({"usesUrl": True, "url": ""}, "rest.url-required"),
        ({"usesUrl": True, "url": None}, "rest.url-required"),
    ],
    ids=[
        "no title",
        "no version",
        "no type",
        "long title",
        "long version",
        "blank url",
        "no url",
    ],
)
@pytest.mark.rules("package.required-fields", "package.max-length", "rest.url-required")
@kinds
def test_invalid_packages_are_refused(
    target: Target, profile: str, kind: Kind, change: dict[str, object], rule_id: str
) -> None:
    body = {**package_body(profile, kind), **change}
    response = target.http.post("/api/otaPackage", json=body)
    assert response.status_code == 400, rule(
        rule_id, f"{change}: got {response.status_code}: {response.text[:200]}"
    )


@pytest.mark.rules("package.max-length")
@kinds
def test_the_longest_title_and_version_are_accepted(
    target: Target, profile: str, kind: Kind
) -> None:
    title = uuid.uuid4().hex + "t" * 223
    info = target.package_info(profile, kind, title=title, version="v" * 255, tag="t" * 255)
    kept = (len(info["title"]), len(info["version"]), len(info["tag"] or ""))
    assert kept == (255, 255, 255), rule(
        "package.max-length", f"kept {kept} characters of title, version and tag"
    )


@pytest.mark.rules("package.fixed-fields")
@pytest.mark.parametrize("field", ["title", "version", "tag", "type", "deviceProfileId", "url"])
@kinds
def test_fields_are_fixed_once_set(target: Target, profile: str, kind: Kind, field: str) -> None:
    if field == "url":
        info = target.url_package(profile, kind, tag="first tag")
    else:
        info = target.package(profile, IMAGE, kind=kind, tag="first tag")
    value: Any = {
        "title": "other",
        "version": "9.9",
        "tag": "other tag",
        "type": other(kind).type,
        "deviceProfileId": {"entityType": "DEVICE_PROFILE", "id": target.profile()},
        "url": "https://example.com/other.bin",
    }[field]
    response = target.http.post("/api/otaPackage", json={**info, field: value})
    assert response.status_code == 400, rule(
        "package.fixed-fields",
        f"changing the {field}: got {response.status_code}",
    )
    kept = stored(target, info)
    assert kept[field] == info[field], rule(
        "package.fixed-fields", f"a refused change left the {field} {kept[field]}"
    )


@pytest.mark.rules("package.fixed-data-fields")
@kinds
def test_uploaded_data_stays_as_it_was(target: Target, profile: str, kind: Kind) -> None:
    info = target.package(profile, IMAGE, kind=kind)
    changes = {
        "fileName": "other.bin",
        "contentType": "text/plain",
        "checksumAlgorithm": "MD5",
        "checksum": checksum_text("MD5", IMAGE),
        "dataSize": 1,
    }
    for field, value in changes.items():
        # Refused (ThingsBoard) or ignored (otakit saves only what may change): either way kept.
        response = target.http.post("/api/otaPackage", json={**info, field: value})
        assert response.status_code in (200, 400), f"{field}: got {response.status_code}"
        if response.status_code == 200:
            assert response.json()[field] == info[field], rule(
                "package.fixed-data-fields", f"the {field} became {response.json()[field]}"
            )
        assert stored(target, info)[field] == info[field], rule(
            "package.fixed-data-fields", f"the {field} became {stored(target, info)[field]}"
        )
    response = target.upload(info, b"other data", expect=None)
    assert response.status_code == 400, rule(
        "package.fixed-data-fields", f"a second upload: got {response.status_code}"
    )
    download = target.http.get(f"/api/otaPackage/{info['id']['id']}/download")
    kept = stored(target, info)
    changed = [field for field in changes if kept[field] != info[field]]
    assert download.content == IMAGE and not changed, rule(
        "package.fixed-data-fields", f"a refused second upload changed the data or {changed}"
    )


@pytest.mark.rules("package.additional-info-editable")
@kinds
def test_additional_info_stays_editable(target: Target, profile: str, kind: Kind) -> None:
    info = target.package(profile, IMAGE, kind=kind)
    edited = target.call(
        "POST", "/api/otaPackage", json={**info, "additionalInfo": {"description": "edited"}}
    )
    assert edited["additionalInfo"] == {"description": "edited"}, rule(
        "package.additional-info-editable", f"answered {edited['additionalInfo']}"
    )
    assert edited["checksum"] == info["checksum"] and edited["hasData"], rule(
        "package.additional-info-editable", "editing additionalInfo lost the data"
    )
    assert stored(target, info)["additionalInfo"] == {"description": "edited"}, rule(
        "package.additional-info-editable", "the edit was not stored"
    )


@pytest.mark.rules(
    "package.delete-refused-device",
    "package.delete-refused-profile",
    "package.delete-after-unassign",
    "package.error-texts",
)
@kinds
def test_a_referenced_package_cannot_be_deleted(target: Target, profile: str, kind: Kind) -> None:
    package = target.package(profile, IMAGE, kind=kind)
    path = f"/api/otaPackage/{package['id']['id']}"
    device, _ = target.device(profile, **{kind.field: package["id"]})
    response = target.http.delete(path)
    assert response.status_code == 400, rule(
        "package.delete-refused-device", f"got {response.status_code}"
    )
    assert message_of(response).startswith(REFERENCED_BY_DEVICE_TEXT), rule(
        "package.error-texts", f"in use by a device: {message_of(response)!r}"
    )
    assert target.http.get(f"/api/otaPackage/info/{package['id']['id']}").status_code == 200, rule(
        "package.delete-refused-device", "the refused delete removed the package"
    )
    target.assign(device, None, kind)
    assert target.assign_profile(profile, package).status_code == 200
    response = target.http.delete(path)
    assert response.status_code == 400, rule(
        "package.delete-refused-profile", f"got {response.status_code}"
    )
    assert message_of(response).startswith(REFERENCED_BY_PROFILE_TEXT), rule(
        "package.error-texts", f"in use by a profile: {message_of(response)!r}"
    )
    assert stored(target, package)["hasData"], rule(
        "package.delete-refused-profile", "the refused delete removed the package"
    )
    assert target.assign_profile(profile, None, kind).status_code == 200
    response = target.http.delete(path)
    assert response.status_code == 200, rule(
        "package.delete-after-unassign", f"got {response.status_code}: {response.text[:200]}"
    )
    gone = target.http.get(f"/api/otaPackage/info/{package['id']['id']}")
    assert gone.status_code == 404, rule("package.delete-after-unassign", f"{gone.status_code}")


@pytest.mark.rules("rest.info-fields", "rest.download-url-package", "package.url-no-data")
@kinds
def test_url_package(target: Target, profile: str, kind: Kind) -> None:
    info = target.url_package(profile, kind)
    assert info["hasData"] is True and info["url"].startswith("https://"), rule(
        "rest.info-fields", "a URL package counts as having data (hasData) and keeps its URL"
    )
    response = target.http.get(f"/api/otaPackage/{info['id']['id']}/download")
    assert response.status_code == 400, rule(
        "rest.download-url-package", f"got {response.status_code}"
    )
    response = target.upload(info, IMAGE, expect=None)
    assert response.status_code == 400, rule(
        "package.url-no-data", f"an upload to a URL package: got {response.status_code}"
    )
    kept = stored(target, info)
    assert (kept["dataSize"], kept["fileName"], kept["url"]) == (None, None, info["url"]), rule(
        "package.url-no-data",
        f"after the refused upload: dataSize {kept['dataSize']}, fileName {kept['fileName']}",
    )


@pytest.mark.rules("rest.paging", "rest.sorting")
def test_pages_and_sorting(target: Target, profile: str) -> None:
    prefix = f"page-{uuid.uuid4().hex[:6]}"
    for letter, version in zip("bca", "312", strict=True):
        target.package_info(profile, title=f"{prefix}-{letter}", version=version)

    def page(number: int, order: str = "ASC", by: str = "title") -> Any:
        params = {"pageSize": 2, "page": number, "textSearch": prefix}
        return target.call(
            "GET",
            "/api/otaPackages",
            params={**params, "sortProperty": by, "sortOrder": order},
        )

    for missing in ("pageSize", "page"):
        params: dict[str, str | int] = {"pageSize": 2, "page": 0, "textSearch": prefix}
        del params[missing]
        response = target.http.get("/api/otaPackages", params=params)
        assert response.status_code == 400, rule(
            "rest.paging", f"without {missing}: got {response.status_code}"
        )

    first, second = page(0), page(1)
    assert (first["totalElements"], first["totalPages"], first["hasNext"]) == (3, 2, True), rule(
        "rest.paging", f"{first['totalElements']}, {first['totalPages']}, {first['hasNext']}"
    )
    titles = [p["title"] for p in [*first["data"], *second["data"]]]
    assert titles == [f"{prefix}-{c}" for c in "abc"] and second["hasNext"] is False, rule(
        "rest.sorting", f"title ASC: {titles}"
    )
    assert page(2)["data"] == [], rule("rest.paging", "a page past the last is not empty")
    descending = [p["title"] for p in page(0, "DESC")["data"]]
    assert descending == [f"{prefix}-c", f"{prefix}-b"], rule(
        "rest.sorting", f"title DESC: {descending}"
    )
    by_version = [p["title"] for p in page(0, "DESC", "version")["data"]]
    assert by_version == [f"{prefix}-b", f"{prefix}-a"], rule(
        "rest.sorting", f"version DESC: {by_version}"
    )


@pytest.mark.rules("rest.assignable-list")
@kinds
def test_only_assignable_packages_are_listed_for_a_profile(
    target: Target, profile: str, kind: Kind
) -> None:
    with_data = target.package(profile, IMAGE, kind=kind)
    with_url = target.url_package(profile, kind)
    target.package_info(profile, kind)  # no data
    target.package(profile, IMAGE, kind=other(kind))  # the other type
    target.package(target.profile(), IMAGE, kind=kind)  # another profile
    listed = target.call(
        "GET", f"/api/otaPackages/{profile}/{kind.type}", params={"pageSize": 10, "page": 0}
    )
    assert sorted(p["id"]["id"] for p in listed["data"]) == sorted(
        p["id"]["id"] for p in (with_data, with_url)
    ), rule("rest.assignable-list", f"listed {[p['title'] for p in listed['data']]}")
