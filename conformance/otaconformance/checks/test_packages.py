"""Spec §4.5 and §7: the REST package lifecycle and its rules."""

from __future__ import annotations

import uuid

from otaconformance.target import Target, rule

IMAGE = bytes(range(256)) * 16


def test_lifecycle(target: Target, profile: str) -> None:
    title = f"life-{uuid.uuid4().hex[:6]}"
    info = target.package(profile, None, title=title)
    assert info["hasData"] is False and info["title"] == title
    info = target.call(
        "POST",
        f"/api/otaPackage/{info['id']['id']}",
        params={"checksumAlgorithm": "sha256"},
        files={"file": ("fw.bin", IMAGE, "application/octet-stream")},
    )
    assert info["hasData"] and info["dataSize"] == len(IMAGE), rule("§7", "upload stores data")
    listed = target.call(
        "GET", "/api/otaPackages", params={"pageSize": 10, "page": 0, "textSearch": title}
    )
    assert [p["id"] for p in listed["data"]] == [info["id"]], rule(
        "§7", "textSearch finds a package by its title"
    )
    assert {"data", "totalPages", "totalElements", "hasNext"} <= set(listed)
    data = target.http.get(f"/api/otaPackage/{info['id']['id']}/download").content
    assert data == IMAGE, rule("§7", "download returns the uploaded bytes")
    target.call("DELETE", f"/api/otaPackage/{info['id']['id']}")
    gone = target.http.get(f"/api/otaPackage/info/{info['id']['id']}")
    assert gone.status_code == 404, rule("§7", "a deleted package is gone (404)")


def test_title_and_version_are_unique(target: Target, profile: str) -> None:
    title = f"uniq-{uuid.uuid4().hex[:6]}"
    target.package(profile, None, title=title)
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


def test_fields_are_fixed_once_set(target: Target, profile: str) -> None:
    info = target.package(profile, IMAGE)
    response = target.http.post("/api/otaPackage", json={**info, "title": info["title"] + "-x"})
    assert response.status_code == 400, rule("§4.5", "the title cannot change once set (400)")
    edited = target.call(
        "POST", "/api/otaPackage", json={**info, "additionalInfo": {"description": "edited"}}
    )
    assert edited["additionalInfo"] == {"description": "edited"}, rule(
        "§4.5", "additionalInfo stays editable"
    )


def test_a_referenced_package_cannot_be_deleted(target: Target, profile: str) -> None:
    package = target.package(profile, IMAGE)
    device, _ = target.device(profile, firmwareId=package["id"])
    response = target.http.delete(f"/api/otaPackage/{package['id']['id']}")
    assert response.status_code == 400, rule(
        "§4.5", f"deleting a package a device uses is refused (400), got {response.status_code}"
    )
    target.assign(device, None)
    target.call("DELETE", f"/api/otaPackage/{package['id']['id']}")


def test_only_assignable_packages_are_listed_for_a_profile(target: Target, profile: str) -> None:
    with_data = target.package(profile, IMAGE)
    target.package(profile, None)
    listed = target.call(
        "GET", f"/api/otaPackages/{profile}/FIRMWARE", params={"pageSize": 10, "page": 0}
    )
    assert [p["id"] for p in listed["data"]] == [with_data["id"]], rule(
        "§7", "the profile/type list holds only packages with data or a URL"
    )
