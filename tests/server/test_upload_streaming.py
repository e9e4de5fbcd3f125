"""Uploads are streamed: a cut-off or oversized upload leaves no package data and no blob."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from otatarget.waiting import wait_until

from tests.conftest import TEST_MAX_PACKAGE_SIZE, TenantContext

BOUNDARY = "otakit-test-boundary"
PREAMBLE = (
    f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="fw.bin"\r\n'
    "Content-Type: application/octet-stream\r\n\r\n"
).encode()
EPILOGUE = f"\r\n--{BOUNDARY}--\r\n".encode()


def raw_request(tenant: TenantContext, package_id: str, headers: dict[str, str]) -> socket.socket:
    """A socket with the request line and headers of an upload sent, and no body yet."""
    url = urlsplit(tenant.api.url)
    sock = socket.create_connection((url.hostname, url.port), timeout=30)
    lines = [
        f"POST /api/otaPackage/{package_id}?checksumAlgorithm=SHA256 HTTP/1.1",
        f"Host: {url.netloc}",
        f"X-Authorization: Bearer {tenant.api.token}",
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    return sock


def read_response(sock: socket.socket) -> tuple[int, dict]:
    data = b""
    while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
        piece = sock.recv(65536)
        if not piece:
            break
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    # The body may be chunk-framed; the JSON object sits between the first { and the last }.
    return status, json.loads(body[body.index(b"{") : body.rindex(b"}") + 1])


def failed_uploads(tenant: TenantContext, package_id: str) -> list[dict]:
    entries = tenant.api.get(
        f"/api/audit/logs/entity/OTA_PACKAGE/{package_id}", params={"pageSize": 10, "page": 0}
    )["data"]
    return [e for e in entries if e["actionStatus"] == "FAILURE"]


def assert_untouched(
    tenant: TenantContext, package_id: str, before: list[Path], blob_files: Callable[[], list[Path]]
) -> None:
    info = tenant.api.get(f"/api/otaPackage/info/{package_id}")
    assert info["hasData"] is False and info["dataSize"] is None
    assert blob_files() == before


def test_upload_cut_off_mid_stream_leaves_nothing(
    tenant: TenantContext, blob_files: Callable[[], list[Path]]
) -> None:
    before = blob_files()
    package_id = tenant.api.create_package(tenant.default_profile_id, "fw", "1.0")["id"]["id"]
    data = uuid.uuid4().bytes * 65536  # 1 MiB
    sock = raw_request(
        tenant, package_id, {"Content-Length": str(len(PREAMBLE) + 2 * len(data) + len(EPILOGUE))}
    )
    sock.sendall(PREAMBLE + data)  # half of the file, then the client is gone
    wait_until(lambda: any(p.parent.name == "staging" for p in blob_files()), "a staged upload", 15)
    sock.close()
    wait_until(
        lambda: bool(failed_uploads(tenant, package_id)), "the failed upload's audit entry", 15
    )
    assert "interrupted" in failed_uploads(tenant, package_id)[0]["actionFailureDetails"]
    assert_untouched(tenant, package_id, before, blob_files)
    # The package is still there to receive its data.
    assert tenant.api.upload(package_id, data)["dataSize"] == len(data)


def test_declared_oversize_is_refused_before_the_body(
    tenant: TenantContext, blob_files: Callable[[], list[Path]]
) -> None:
    before = blob_files()
    package_id = tenant.api.create_package(tenant.default_profile_id, "fw", "1.0")["id"]["id"]
    with raw_request(tenant, package_id, {"Content-Length": str(10 * TEST_MAX_PACKAGE_SIZE)}) as s:
        status, body = read_response(s)
    assert status == 413 and body["status"] == 413
    assert "larger than the limit" in body["message"]
    assert_untouched(tenant, package_id, before, blob_files)


def test_streamed_oversize_is_refused_while_streaming(
    tenant: TenantContext, blob_files: Callable[[], list[Path]]
) -> None:
    before = blob_files()
    package_id = tenant.api.create_package(tenant.default_profile_id, "fw", "1.0")["id"]["id"]
    piece = b"\xa5" * 65536

    def chunked(payload: bytes) -> bytes:
        return f"{len(payload):x}\r\n".encode() + payload + b"\r\n"

    with raw_request(tenant, package_id, {"Transfer-Encoding": "chunked"}) as sock:
        sock.sendall(chunked(PREAMBLE))
        for _ in range(TEST_MAX_PACKAGE_SIZE // len(piece) + 16):  # 1 MiB past the limit
            sock.sendall(chunked(piece))
        sock.sendall(chunked(EPILOGUE) + b"0\r\n\r\n")
        status, body = read_response(sock)
    assert status == 413, body
    assert str(TEST_MAX_PACKAGE_SIZE) in body["message"]
    assert_untouched(tenant, package_id, before, blob_files)
    assert "larger than the limit" in failed_uploads(tenant, package_id)[0]["actionFailureDetails"]


def test_a_package_at_the_limit_is_accepted(tenant: TenantContext) -> None:
    package_id = tenant.api.create_package(tenant.default_profile_id, "fw", "1.0")["id"]["id"]
    data = b"\x01" * TEST_MAX_PACKAGE_SIZE
    assert tenant.api.upload(package_id, data)["dataSize"] == TEST_MAX_PACKAGE_SIZE
