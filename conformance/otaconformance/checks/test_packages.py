"""Spec §4.5 and §7: the REST package lifecycle and its rules."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from otaconformance.target import SOFTWARE, Target, rule

IMAGE = bytes(range(256)) * 16


def test_lifecycle(target: Target, profile: str) -> None:
    title = f"life-{uuid.uuid4().hex[:6]}"
    info = target.package_info(profile, title=title, additionalInfo={"description": "first"})
    assert info["hasData"] is False and info["title"] == title
    assert info["id"]["entityType"] == "OTA_PACKAGE", rule("§7", "an id is {entityType, id}")
    assert info.get("name") == title, rule("§7", "an OtaPackageInfo's read-only name is its title")
    info = target.call(
        "POST",
        f"/api/otaPackage/{info['id']['id']}",
        params={"checksumAlgorithm": "sha256"},
        files={"file": ("fw.bin", IMAGE, "application/x-firmware")},
    )
    assert info["hasData"] and info["dataSize"] == len(IMAGE), rule("§7", "upload stores data")
    assert info["checksumAlgorithm"] == "SHA256", rule(
        "§7", "checksumAlgorithm is case-insensitive and kept as the enum name"
    )
    assert (info["fileName"], info["contentType"]) == ("fw.bin", "application/x-firmware"), rule(
        "§7", "the upload keeps the part's file name and content type"
    )
    package_id = info["id"]["id"]
    assert target.call("GET", f"/api/otaPackage/info/{package_id}")["checksum"] == info["checksum"]
    listed = target.call(
        "GET", "/api/otaPackages", params={"pageSize": 10, "page": 0, "textSearch": title}
    )
    assert [p["id"] for p in listed["data"]] == [info["id"]], rule(
        "§7", "textSearch finds a package by its title"
    )
    response = target.http.get(f"/api/otaPackage/{package_id}/download")
    assert response.status_code == 200 and response.content == IMAGE, rule(
        "§7", "download returns the uploaded bytes"
    )
    assert "fw.bin" in response.headers.get("content-disposition", ""), rule(
        "§6.3", "a download names the file in Content-Disposition"
    )
    target.call("DELETE", f"/api/otaPackage/{package_id}")
    gone = target.http.get(f"/api/otaPackage/info/{package_id}")
    assert gone.status_code == 404, rule("§7", "a deleted package is gone (404)")


def test_title_and_version_are_unique(target: Target, profile: str) -> None:
    title = f"uniq-{uuid.uuid4().hex[:6]}"
    target.package_info(profile, title=title, version="1.0")
    response = target.http.post(
        "/api/otaPackage",
        json={
            "title": title,
            "version": "1.0",
            "type": "FIRMWARE",
            "deviceProfileId": {"entityType": "DEVICE_PROFILE", "id": profile},
        },
    )
    assert response.status_code == 400, rule(
        "§4.5", f"title+version is unique per tenant (400), got {response.status_code}"
    )
    target.package_info(profile, title=title, version="1.1")  # another version is another package


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"title": None}, "title is required"),
        ({"version": None}, "version is required"),
        ({"title": "t" * 256}, "a title is at most 255 characters"),
        ({"version": "v" * 256}, "a version is at most 255 characters"),
        ({"type": None}, "type is required"),
        ({"usesUrl": True, "url": ""}, "a URL package needs a URL"),
    ],
    ids=["no title", "no version", "long title", "long version", "no type", "blank url"],
)
def test_invalid_packages_are_refused(
    target: Target, profile: str, change: dict[str, object], why: str
) -> None:
    body = {
        "title": f"bad-{uuid.uuid4().hex[:6]}",
        "version": "1.0",
        "type": "FIRMWARE",
        "deviceProfileId": {"entityType": "DEVICE_PROFILE", "id": profile},
        **change,
    }
    response = target.http.post("/api/otaPackage", json=body)
    assert response.status_code == 400, rule("§4.5", f"{why} (400), got {response.status_code}")


def test_the_longest_title_and_version_are_accepted(target: Target, profile: str) -> None:
    title = uuid.uuid4().hex + "t" * 223
    info = target.package_info(profile, title=title, version="v" * 255)
    assert (len(info["title"]), len(info["version"])) == (255, 255), rule(
        "§4.5", "titles and versions of 255 characters are kept whole"
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [("title", "other"), ("version", "9.9"), ("tag", "other tag"), ("type", "SOFTWARE")],
)
def test_fields_are_fixed_once_set(target: Target, profile: str, field: str, value: str) -> None:
    info = target.package(profile, IMAGE, tag="first tag")
    response = target.http.post("/api/otaPackage", json={**info, field: value})
    assert response.status_code == 400, rule(
        "§4.5", f"the {field} cannot change once set (400), got {response.status_code}"
    )
    kept = target.call("GET", f"/api/otaPackage/info/{info['id']['id']}")
    assert kept[field] == info[field], rule(
        "§4.5", f"a refused change leaves the {field} as it was"
    )


def test_additional_info_stays_editable(target: Target, profile: str) -> None:
    info = target.package(profile, IMAGE)
    edited = target.call(
        "POST", "/api/otaPackage", json={**info, "additionalInfo": {"description": "edited"}}
    )
    assert edited["additionalInfo"] == {"description": "edited"}, rule(
        "§4.5", "additionalInfo stays editable"
    )
    assert edited["checksum"] == info["checksum"] and edited["hasData"], rule(
        "§4.5", "editing additionalInfo keeps the data"
    )


def test_a_referenced_package_cannot_be_deleted(target: Target, profile: str) -> None:
    package = target.package(profile, IMAGE)
    device, _ = target.device(profile, firmwareId=package["id"])
    response = target.http.delete(f"/api/otaPackage/{package['id']['id']}")
    assert response.status_code == 400, rule(
        "§4.5", f"deleting a package a device uses is refused (400), got {response.status_code}"
    )
    target.assign(device, None)
    assert target.assign_profile(profile, package).status_code == 200
    response = target.http.delete(f"/api/otaPackage/{package['id']['id']}")
    assert response.status_code == 400, rule(
        "§4.5", f"deleting a package a profile uses is refused (400), got {response.status_code}"
    )
    assert target.call("GET", f"/api/otaPackage/info/{package['id']['id']}")["hasData"], rule(
        "§4.5", "a refused delete keeps the package"
    )
    target.assign_profile(profile, None)
    target.call("DELETE", f"/api/otaPackage/{package['id']['id']}")


def test_url_package(target: Target, profile: str) -> None:
    info = target.url_package(profile)
    assert info["hasData"] is True and info["url"].startswith("https://"), rule(
        "§7", "a URL package counts as having data (hasData) and keeps its URL"
    )
    response = target.http.get(f"/api/otaPackage/{info['id']['id']}/download")
    assert response.status_code == 400, rule(
        "§7", f"a URL package has nothing to download (400), got {response.status_code}"
    )


def test_pages_and_sorting(target: Target, profile: str) -> None:
    prefix = f"page-{uuid.uuid4().hex[:6]}"
    for letter in "bca":
        target.package_info(profile, title=f"{prefix}-{letter}")

    def page(number: int, order: str = "ASC") -> Any:
        params = {"pageSize": 2, "page": number, "textSearch": prefix}
        return target.call(
            "GET",
            "/api/otaPackages",
            params={**params, "sortProperty": "title", "sortOrder": order},
        )

    first, second = page(0), page(1)
    assert (first["totalElements"], first["totalPages"], first["hasNext"]) == (3, 2, True), rule(
        "§7", "a page tells totalElements, totalPages and hasNext"
    )
    titles = [p["title"] for p in [*first["data"], *second["data"]]]
    assert titles == [f"{prefix}-{c}" for c in "abc"] and second["hasNext"] is False, rule(
        "§7", f"pages follow sortProperty=title ASC: {titles}"
    )
    descending = [p["title"] for p in page(0, "DESC")["data"]]
    assert descending == [f"{prefix}-c", f"{prefix}-b"], rule("§7", "sortOrder=DESC reverses")


def test_only_assignable_packages_are_listed_for_a_profile(target: Target, profile: str) -> None:
    with_data, with_url = target.package(profile, IMAGE), target.url_package(profile)
    target.package_info(profile)
    target.package(profile, IMAGE, kind=SOFTWARE)
    listed = target.call(
        "GET", f"/api/otaPackages/{profile}/FIRMWARE", params={"pageSize": 10, "page": 0}
    )
    assert sorted(p["id"]["id"] for p in listed["data"]) == sorted(
        p["id"]["id"] for p in (with_data, with_url)
    ), rule("§7", "the profile/type list holds only that type's packages with data or a URL")
