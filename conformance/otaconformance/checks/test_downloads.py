"""Spec §7: the REST download of a package's data (GET /api/otaPackage/{id}/download), its
headers, the full OtaPackage with its data, and Range requests (an otakit extension)."""

from __future__ import annotations

import base64
import re

import pytest

from otaconformance.packaging import IMAGE, stored, upload_file
from otaconformance.target import KINDS, Entity, Kind, Target, rule

kinds = pytest.mark.parametrize("kind", KINDS, ids=str)
FILE_NAME = "fw-1.2.bin"
CONTENT_TYPE = "application/x-firmware"


def uploaded(target: Target, profile: str, kind: Kind) -> Entity:
    info = target.package_info(profile, kind)
    response = upload_file(
        target, info, IMAGE, FILE_NAME, CONTENT_TYPE, params={"checksumAlgorithm": "SHA256"}
    )
    assert response.status_code == 200, f"upload: {response.status_code} {response.text[:200]}"
    return response.json()  # type: ignore[no-any-return]


def disposition_name(header: str) -> str | None:
    """The file name of `attachment;filename=<name>` (quoted or not)."""
    found = re.fullmatch(r'\s*attachment\s*;\s*filename\s*=\s*"?([^";]*)"?\s*(;.*)?', header)
    return found.group(1) if found else None


@pytest.mark.rules("rest.download-headers")
@kinds
def test_download_headers(target: Target, profile: str, kind: Kind) -> None:
    package = uploaded(target, profile, kind)
    response = target.http.get(f"/api/otaPackage/{package['id']['id']}/download")
    assert response.status_code == 200 and response.content == IMAGE, rule(
        "rest.download-headers", f"{response.status_code}, {len(response.content)} bytes"
    )
    headers = response.headers
    assert headers.get("content-type", "").split(";")[0].strip() == CONTENT_TYPE, rule(
        "rest.download-headers", f"Content-Type {headers.get('content-type')}"
    )
    assert headers.get("content-length") == str(len(IMAGE)), rule(
        "rest.download-headers", f"Content-Length {headers.get('content-length')}"
    )
    disposition = headers.get("content-disposition", "")
    assert disposition_name(disposition) == FILE_NAME, rule(
        "rest.download-headers", f"Content-Disposition {disposition!r}"
    )
    assert headers.get("x-filename") == FILE_NAME, rule(
        "rest.download-headers", f"x-filename {headers.get('x-filename')}"
    )


@pytest.mark.otakit_extension
@pytest.mark.rules("rest.full-data-base64")
@kinds
def test_the_full_package_carries_its_data(target: Target, profile: str, kind: Kind) -> None:
    empty = target.package_info(profile, kind)
    full = target.call("GET", f"/api/otaPackage/{empty['id']['id']}")
    assert "data" in full and full["data"] is None, rule(
        "rest.full-data-base64", f"without data: {full.get('data')!r}"
    )
    package = uploaded(target, profile, kind)
    full = target.call("GET", f"/api/otaPackage/{package['id']['id']}")
    assert base64.b64decode(full.get("data") or "") == IMAGE, rule(
        "rest.full-data-base64", f"data {str(full.get('data'))[:40]}..."
    )
    assert {k: v for k, v in full.items() if k != "data"} == stored(target, package), rule(
        "rest.full-data-base64", "the rest of the OtaPackage is not its info"
    )


@pytest.mark.otakit_extension
@pytest.mark.rules("rest.download-range", "rest.download-range-unsatisfiable")
@kinds
def test_download_ranges(target: Target, profile: str, kind: Kind) -> None:
    package = uploaded(target, profile, kind)
    path = f"/api/otaPackage/{package['id']['id']}/download"
    size = len(IMAGE)
    # Range header -> the first and last byte it names.
    ranges = {
        "bytes=0-0": (0, 0),
        "bytes=100-1123": (100, 1123),
        "bytes=-50": (size - 50, size - 1),
        "bytes=1000-": (1000, size - 1),
        f"bytes=4000-{size + 1000}": (4000, size - 1),  # the end clipped to the data
    }
    for asked, (first, last) in ranges.items():
        response = target.http.get(path, headers={"Range": asked})
        assert response.status_code == 206, rule(
            "rest.download-range", f"{asked}: got {response.status_code}"
        )
        assert response.content == IMAGE[first : last + 1], rule(
            "rest.download-range",
            f"{asked}: {len(response.content)} bytes, not bytes {first}-{last}",
        )
        headers = response.headers
        assert headers.get("content-range") == f"bytes {first}-{last}/{size}", rule(
            "rest.download-range", f"{asked}: Content-Range {headers.get('content-range')}"
        )
        assert headers.get("content-length") == str(last + 1 - first), rule(
            "rest.download-range", f"{asked}: Content-Length {headers.get('content-length')}"
        )
    for asked in (f"bytes={size}-", f"bytes={size + 10}-{size + 20}"):
        response = target.http.get(path, headers={"Range": asked})
        assert response.status_code == 416, rule(
            "rest.download-range-unsatisfiable", f"{asked}: got {response.status_code}"
        )
        assert response.headers.get("content-range") == f"bytes */{size}", rule(
            "rest.download-range-unsatisfiable",
            f"{asked}: Content-Range {response.headers.get('content-range')}",
        )
