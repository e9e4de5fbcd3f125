"""OTA packages (spec §7): info, data upload, listing, download and deletion."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse

from ..domain.enums import OtaPackageType
from ..domain.errors import OtaError, PayloadTooLarge
from ..services.forms import Upload
from ..services.packages import Download
from .body import json_body, package_type, page_request, paging, parse_uuid
from .disposition import attachment_headers
from .forms import package_form
from .multipart import MultipartUpload
from .openapi_requests import checksum, checksum_algorithm
from .routing import Operation, Param, principal, services
from .views import package_json, page_json

# Room for the multipart framing and form fields around the file itself.
MULTIPART_OVERHEAD = 1024 * 1024
# How much of a refused body is read and dropped so that the client sees the answer.
OVERSIZE_DRAIN_LIMIT = 64 * 1024 * 1024
# Read from disk in multiples of 3 bytes, so each piece encodes to base64 without padding.
BASE64_READ_SIZE = 3 * 256 * 1024


async def save_info(request: Request) -> Response:
    form = package_form(await json_body(request))
    package = await services(request).packages.save_info(await principal(request), form)
    return JSONResponse(package_json(package))


async def upload_data(request: Request) -> Response:
    """Multipart part `file`; `checksumAlgorithm` and `checksum` as query or form fields."""
    user = await principal(request)
    user.require_tenant_admin()  # the data is the tenant's alone, even before there is any
    package_id = parse_uuid(request.path_params["otaPackageId"])
    packages = services(request).packages
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > packages.max_size + MULTIPART_OVERHEAD:
        raise PayloadTooLarge(f"Package data is larger than the limit of {packages.max_size} bytes")
    body = MultipartUpload(request)
    header = await body.open()
    query = request.query_params
    upload = Upload(
        file_name=header.file_name,
        content_type=header.content_type,
        checksum_algorithm=query.get("checksumAlgorithm", body.fields.get("checksumAlgorithm")),
        checksum=query.get("checksum", body.fields.get("checksum")),
    )
    refused = tuple(name for name in ("checksumAlgorithm", "checksum") if name not in query)
    try:
        package = await packages.upload(user, package_id, upload, body.chunks(refused))
    except OtaError:
        # Refused mid-body (too large, disk full, a malformed part): read the rest, so that
        # the client gets to see the answer rather than a reset connection.
        await body.discard_rest(OVERSIZE_DRAIN_LIMIT)
        raise
    return JSONResponse(package_json(package))


async def get_info(request: Request) -> Response:
    package_id = parse_uuid(request.path_params["otaPackageId"])
    package = await services(request).packages.get(await principal(request), package_id)
    return JSONResponse(package_json(package))


async def get_with_data(request: Request) -> Response:
    """OtaPackage: the info plus `data` in base64, streamed from disk rather than built."""
    user = await principal(request)
    user.require_tenant_admin()  # the data is the tenant's alone, even before there is any
    package_id = parse_uuid(request.path_params["otaPackageId"])
    packages = services(request).packages
    package = await packages.get(user, package_id)
    info = package_json(package)
    if not package.has_data:
        return JSONResponse({**info, "data": None})
    download = await packages.download(user, package_id)
    head = json.dumps(info, separators=(",", ":"))[:-1] + ',"data":"'
    return StreamingResponse(_json_with_base64(head, download.path), media_type="application/json")


async def _json_with_base64(head: str, path: Path) -> AsyncIterator[bytes]:
    yield head.encode()
    async with await anyio.open_file(path, "rb") as file:
        while piece := await file.read(BASE64_READ_SIZE):
            yield base64.b64encode(piece)
    yield b'"}'


async def download(request: Request) -> Response:
    package_id = parse_uuid(request.path_params["otaPackageId"])
    found = await services(request).packages.download(await principal(request), package_id)
    return file_response(found)


def file_response(found: Download) -> FileResponse:
    """The data with ThingsBoard's headers; Starlette answers Range requests with 206."""
    return FileResponse(
        found.path, media_type=found.content_type, headers=attachment_headers(found.file_name)
    )


async def list_packages(request: Request) -> Response:
    page = await services(request).packages.page(await principal(request), page_request(request))
    return JSONResponse(page_json(page, package_json))


async def list_assignable(request: Request) -> Response:
    profile_id = parse_uuid(request.path_params["deviceProfileId"])
    kind = package_type(request.path_params["type"])
    page = await services(request).packages.page_assignable(
        await principal(request), page_request(request), profile_id, kind
    )
    return JSONResponse(page_json(page, package_json))


async def delete(request: Request) -> Response:
    package_id = parse_uuid(request.path_params["otaPackageId"])
    await services(request).packages.delete(await principal(request), package_id)
    return Response(status_code=200)


TAG = "OTA packages"
PACKAGE_PAGING = paging(
    (
        "createdTime",
        "type",
        "title",
        "version",
        "tag",
        "url",
        "checksum",
        "fileName",
        "dataSize",
        "contentType",
        "checksumAlgorithm",
    ),
    "title",
)
PACKAGE_TYPE = {"enum": [t.value for t in OtaPackageType]}
OPERATIONS = [
    Operation(
        "POST",
        "/api/otaPackage",
        save_info,
        "Create a package's info, or update its additionalInfo",
        TAG,
        body="SaveOtaPackageInfoRequest",
        response="OtaPackageInfo",
    ),
    Operation(
        "POST",
        "/api/otaPackage/{otaPackageId}",
        upload_data,
        "Upload a package's data (multipart part 'file')",
        TAG,
        query=[
            Param(
                "checksumAlgorithm",
                "MD5, SHA256 (default), SHA384, SHA512, CRC32, "
                "MURMUR3_32 or MURMUR3_128; case-insensitive",
                schema=checksum_algorithm(),
            ),
            Param(
                "checksum",
                "Expected checksum, in hex digits; computed when blank or left out",
                schema=checksum(),
            ),
        ],
        body="multipart",
        response="OtaPackageInfo",
        responses={413: "The data is larger than the limit"},
    ),
    Operation(
        "GET",
        "/api/otaPackage/info/{otaPackageId}",
        get_info,
        "A package's info",
        TAG,
        response="OtaPackageInfo",
    ),
    Operation(
        "GET",
        "/api/otaPackage/{otaPackageId}",
        get_with_data,
        "A package's info with its data in base64",
        TAG,
        response="OtaPackage",
    ),
    Operation(
        "GET",
        "/api/otaPackage/{otaPackageId}/download",
        download,
        "A package's data; Range requests get 206",
        TAG,
        response="bytes",
    ),
    Operation(
        "GET",
        "/api/otaPackages",
        list_packages,
        "The tenant's packages",
        TAG,
        query=PACKAGE_PAGING,
        response="PageDataOtaPackageInfo",
    ),
    Operation(
        "GET",
        "/api/otaPackages/{deviceProfileId}/{type}",
        list_assignable,
        "Packages of a profile and type that have data or a URL",
        TAG,
        query=PACKAGE_PAGING,
        response="PageDataOtaPackageInfo",
        path_params={"type": PACKAGE_TYPE},
    ),
    Operation(
        "DELETE",
        "/api/otaPackage/{otaPackageId}",
        delete,
        "Delete a package no device or profile references",
        TAG,
    ),
]
