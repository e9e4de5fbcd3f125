"""Package file names in any script survive the round trip; unusable ones are refused."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest

from tests.conftest import TenantContext
from tests.support.api import assert_error, entity_id
from tests.support.ota import shared, wait_for

# curl -F cannot send ";" or a quote in a file name: raw_upload below and the unit tests of
# the Content-Disposition header cover those.
NAMES = ["firmware-é.bin", "固件-版本2.bin", "🚀 rocket launch (v2).bin"]


def curl_upload(tenant: TenantContext, package_id: str, path: Path) -> httpx.Response:
    """The issue's repro: curl -F file=@<name>, as a shell script would upload."""
    result = subprocess.run(
        [
            "curl",
            "-s",
            "-w",
            "\n%{http_code}",
            "-X",
            "POST",
            f"{tenant.api.url}/api/otaPackage/{package_id}?checksumAlgorithm=SHA256",
            "-H",
            f"X-Authorization: Bearer {tenant.api.token}",
            "-F",
            f"file=@{path}",
        ],
        capture_output=True,
        check=True,
        timeout=60,
    )
    body, _, status = result.stdout.rpartition(b"\n")
    return httpx.Response(int(status), content=body)


def named_in(headers: httpx.Headers) -> str:
    """The file name a standard client reads from Content-Disposition (filename* first)."""
    params = dict(
        part.strip().split("=", 1) for part in headers["content-disposition"].split(";")[1:]
    )
    if "filename*" in params:
        charset, _, encoded = params["filename*"].split("'", 2)
        assert charset == "UTF-8"
        return unquote(encoded)
    return params["filename"].strip('"')


@pytest.mark.parametrize("name", NAMES)
def test_a_name_in_any_script_downloads_byte_identical_everywhere(
    tenant: TenantContext, tmp_path: Path, name: str
) -> None:
    data = os.urandom(5000)
    path = tmp_path / name
    path.write_bytes(data)
    api = tenant.api
    package = api.create_package(tenant.default_profile_id, f"fw-{uuid.uuid4().hex[:6]}", "1.0")
    uploaded = curl_upload(tenant, package["id"]["id"], path)
    assert uploaded.status_code == 200, uploaded.text
    assert json.loads(uploaded.content)["fileName"] == name

    rest = api.request("GET", f"/api/otaPackage/{package['id']['id']}/download")
    assert rest.content == data
    assert named_in(rest.headers) == name
    assert api.get(f"/api/otaPackage/info/{package['id']['id']}")["fileName"] == name

    token = f"t-{uuid.uuid4().hex[:8]}"
    device = api.create_device(
        f"d-{uuid.uuid4().hex[:6]}",
        tenant.default_profile_id,
        token=token,
        firmwareId=entity_id("OTA_PACKAGE", package["id"]["id"]),
    )
    wait_for(lambda: "fw_title" in shared(tenant, device["id"]["id"]), what="fw attributes")
    for params in ({}, {"size": 4096, "chunk": 0}):
        answer = api.http.get(
            f"/api/v1/{token}/firmware",
            params={"title": package["title"], "version": "1.0", **params},
        )
        assert answer.status_code == 200, answer.text
        assert answer.content == data[: params.get("size", len(data))]
        assert named_in(answer.headers) == name


def raw_upload(tenant: TenantContext, package_id: str, disposition: bytes) -> httpx.Response:
    """A multipart body written by hand, to send names that client libraries clean up."""
    boundary = b"otakit-test-boundary"
    body = (
        b"--"
        + boundary
        + b'\r\nContent-Disposition: form-data; name="file"; '
        + disposition
        + b"\r\nContent-Type: application/octet-stream\r\n\r\n"
        + b"DATA" * 100
        + b"\r\n--"
        + boundary
        + b"--\r\n"
    )
    return tenant.api.http.post(
        f"/api/otaPackage/{package_id}",
        params={"checksumAlgorithm": "SHA256"},
        content=body,
        headers={"Content-Type": "multipart/form-data; boundary=" + boundary.decode()},
    )


@pytest.mark.parametrize(
    "file_name", [b'"a\x00b.bin"', b'"fw\x1b[31m.bin"', b'"fw\x7f.bin"', b'".."', b'"/"']
)
def test_a_name_with_nul_or_control_characters_is_refused_and_nothing_is_stored(
    tenant: TenantContext, blob_files: Callable[[], list[Path]], file_name: bytes
) -> None:
    package = tenant.api.create_package(
        tenant.default_profile_id, f"fw-{uuid.uuid4().hex[:6]}", "1.0"
    )
    package_id = package["id"]["id"]
    before = blob_files()
    assert_error(raw_upload(tenant, package_id, b"filename=" + file_name), 400, "file name")
    info = tenant.api.get(f"/api/otaPackage/info/{package_id}")
    assert info["hasData"] is False and info["fileName"] is None
    assert blob_files() == before


@pytest.mark.parametrize(
    ("disposition", "stored"),
    [
        (b'filename="dir/sub/fw.bin"', "fw.bin"),
        (b'filename="C:\\\\fw\\\\fw.bin"', "fw.bin"),
        ('filename="Übung-é.bin"'.encode(), "Übung-é.bin"),
        ('filename="Übung.bin"'.encode("latin-1"), "Übung.bin"),
    ],
)
def test_a_path_keeps_its_last_part_and_any_encoding_reads(
    tenant: TenantContext, disposition: bytes, stored: str
) -> None:
    package = tenant.api.create_package(
        tenant.default_profile_id, f"fw-{uuid.uuid4().hex[:6]}", "1.0"
    )
    answer = raw_upload(tenant, package["id"]["id"], disposition)
    assert answer.status_code == 200, answer.text
    assert answer.json()["fileName"] == stored


@pytest.mark.parametrize(
    ("length", "message"),
    # Past the multipart parser's own header limit, the part itself is refused.
    [(300, "file name must be at most 255"), (10_000, "Malformed multipart body")],
)
def test_an_overlong_name_is_refused(tenant: TenantContext, length: int, message: str) -> None:
    package = tenant.api.create_package(
        tenant.default_profile_id, f"fw-{uuid.uuid4().hex[:6]}", "1.0"
    )
    answer = raw_upload(tenant, package["id"]["id"], b'filename="' + b"x" * length + b'.bin"')
    assert_error(answer, 400, message)
    assert tenant.api.get(f"/api/otaPackage/info/{package['id']['id']}")["hasData"] is False
