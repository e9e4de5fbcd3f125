"""Input that once reached the database unchecked: each is a 400 (413 for size) in the one error
shape, the same on SQLite and PostgreSQL, and never a traceback in the server's log."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import TenantContext
from tests.support.api import assert_error, entity_id
from tests.support.process import ServerProcess

DEEP = b"[" * 200_000 + b"]" * 200_000


@pytest.fixture(autouse=True)
def no_traceback(server: ServerProcess) -> Iterator[None]:
    """The server logs nothing of what these tests send (the log is this worker's alone)."""
    before = len(server.log())
    yield
    assert "Traceback" not in server.log()[before:]


def device_token(tenant: TenantContext) -> str:
    token = f"bad-input-{uuid.uuid4().hex[:8]}"
    tenant.api.create_device(f"d-{uuid.uuid4().hex[:6]}", tenant.default_profile_id, token=token)
    return token


def paged_gets(server: ServerProcess, tenant: TenantContext) -> list[str]:
    """Every GET of the API that takes pageSize, with its path parameters filled in."""
    document = httpx.get(server.url + "/openapi.json").json()
    customer = tenant.api.post("/api/customer", {"title": "c"})["id"]["id"]
    device = tenant.api.create_device(f"d-{uuid.uuid4().hex[:6]}", tenant.default_profile_id)
    values = {
        "entityId": device["id"]["id"],
        "userId": tenant.api.get("/api/auth/user")["id"]["id"],
        "tenantId": tenant.tenant_id,
        "customerId": customer,
        "deviceProfileId": tenant.default_profile_id,
        "type": "FIRMWARE",
        "entityType": "DEVICE",
    }
    paths = []
    for path, operations in document["paths"].items():
        get = operations.get("get")
        if get and any(p["name"] == "pageSize" for p in get["parameters"]):
            paths.append(path.format(**values))
    return paths


def test_a_page_past_any_database_offset_is_refused_on_every_list(
    server: ServerProcess, tenant: TenantContext, sysadmin: Any
) -> None:
    paths = paged_gets(server, tenant)
    assert len(paths) >= 10
    for path in paths:
        for api in (tenant.api, sysadmin):
            response = api.http.get(path, params={"pageSize": 10000, "page": 100000000000})
            if response.status_code in (401, 403, 404):
                continue  # not this user's list
            assert_error(response, 400, "page")


@pytest.mark.parametrize(
    "path",
    ["/api/auth/login", "/api/device", "/api/deviceProfile", "/api/otaPackage", "/api/customer"],
)
def test_json_nested_200000_deep_is_refused(tenant: TenantContext, path: str) -> None:
    response = tenant.api.http.post(
        path, content=DEEP, headers={"Content-Type": "application/json"}
    )
    assert_error(response, 400, "nested deeper than")


def test_deep_json_is_refused_without_credentials(server: ServerProcess) -> None:
    response = httpx.post(server.url + "/api/auth/login", content=DEEP)
    assert_error(response, 400, "nested deeper than")


def test_deep_telemetry_is_refused(tenant: TenantContext) -> None:
    token = device_token(tenant)
    assert_error(tenant.api.http.post(f"/api/v1/{token}/telemetry", content=DEEP), 400, "nested")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("version", "\ud800", "not valid Unicode"),
        ("title", "fw\x00", "NUL"),
        ("version", "1" * 256, "at most 255"),
        ("tag", "t" * 300, "at most 255"),
    ],
)
def test_unstorable_package_texts_are_refused(
    tenant: TenantContext, field: str, value: str, message: str
) -> None:
    body = {
        "title": "fw",
        "version": "1.0",
        "type": "FIRMWARE",
        "deviceProfileId": entity_id("DEVICE_PROFILE", tenant.default_profile_id),
        field: value,
    }
    raw = json.dumps(body)  # \ud800 and \u0000 go as JSON escapes, as any client sends them
    response = tenant.api.http.post(
        "/api/otaPackage", content=raw, headers={"Content-Type": "application/json"}
    )
    assert_error(response, 400, message)


@pytest.mark.parametrize(
    ("name", "status", "message"),
    [("d\x00", 400, "NUL"), ("d" * 1_000_000, 400, "at most 255"), ("d" * 2_000_000, 413, "")],
)
def test_device_names_are_checked(
    tenant: TenantContext, name: str, status: int, message: str
) -> None:
    response = tenant.api.http.post("/api/device", json={"name": name})
    assert_error(response, status, message)


def test_nul_in_a_search_or_token_is_refused(tenant: TenantContext) -> None:
    api = tenant.api
    for path, params in [
        ("/api/tenant/devices", {"pageSize": 10, "page": 0, "textSearch": "a\x00b"}),
        ("/api/otaPackages", {"pageSize": 10, "page": 0, "textSearch": "\x00"}),
        ("/api/tenant/devices", {"deviceName": "x\x00"}),
    ]:
        assert_error(api.http.get(path, params=params), 400, "NUL")
    assert_error(api.http.post("/api/v1/tok%00en/telemetry", json={"a": 1}), 400, "NUL")


@pytest.mark.parametrize(
    ("payload", "status", "message"),
    [
        (b'{"t": NaN}', 400, "NaN"),
        (b'{"t": Infinity}', 400, "Infinity"),
        (b'{"t": 1e999}', 400, "too large a number"),
        (b'{"ts": 99999999999999999999, "values": {"t": 1}}', 400, "milliseconds"),
        (b'{"k\\u0000": 1}', 400, "NUL"),
        (b'{"k": "v\\u0000"}', 400, "NUL"),
        (b'{"k": "\\udc00"}', 400, "Unicode"),
        (json.dumps({f"k{n}": n for n in range(100_000)}).encode(), 413, ""),
        (json.dumps({f"k{n}": n for n in range(1001)}).encode(), 400, "At most 1000"),
        (json.dumps([{"k": n} for n in range(1001)]).encode(), 400, "At most 1000"),
        (b'{"a": "' + b"x" * 50_000_000 + b'"}', 413, "larger than the limit"),
    ],
)
def test_bad_telemetry_is_refused(
    tenant: TenantContext, payload: bytes, status: int, message: str
) -> None:
    token = device_token(tenant)
    response = tenant.api.http.post(f"/api/v1/{token}/telemetry", content=payload)
    assert_error(response, status, message)


def test_telemetry_at_the_key_limit_is_stored(tenant: TenantContext) -> None:
    token = device_token(tenant)
    values = {f"k{n}": n for n in range(1000)}
    assert tenant.api.http.post(f"/api/v1/{token}/telemetry", json=values).status_code == 200


def multipart(boundary: bytes, *parts: bytes) -> bytes:
    return b"".join(b"--" + boundary + b"\r\n" + part + b"\r\n" for part in parts) + (
        b"--" + boundary + b"--\r\n"
    )


FILE_PART = b'Content-Disposition: form-data; name="file"; filename="fw.bin"\r\n\r\n'


@pytest.mark.parametrize(
    ("content_type", "body", "message"),
    [
        ("multipart/form-data; boundary=right", multipart(b"wrong", FILE_PART + b"x"), "multipart"),
        ("multipart/form-data; boundary=b", b"\x00garbage\xff" * 1000, ""),
        ("multipart/form-data; boundary=b", b"--b\r\nX-Long: " + b"h" * 1_000_000, "header"),
        ("multipart/form-data; boundary=b", multipart(b"b", FILE_PART), "empty"),
        (
            "multipart/form-data; boundary=b",
            multipart(b"b", FILE_PART + b"one", FILE_PART + b"two"),
            "one part",
        ),
        ("multipart/form-data", multipart(b"b", FILE_PART + b"x"), "multipart/form-data"),
        ("application/json", b"{}", "multipart/form-data"),
    ],
)
def test_malformed_uploads_are_refused_and_store_nothing(
    tenant: TenantContext, content_type: str, body: bytes, message: str
) -> None:
    package = tenant.api.create_package(
        tenant.default_profile_id, f"fw-{uuid.uuid4().hex[:6]}", "1.0"
    )
    response = tenant.api.http.post(
        f"/api/otaPackage/{package['id']['id']}",
        params={"checksumAlgorithm": "SHA256"},
        content=body,
        headers={"Content-Type": content_type},
    )
    assert_error(response, 400, message)
    assert tenant.api.get(f"/api/otaPackage/info/{package['id']['id']}")["hasData"] is False
