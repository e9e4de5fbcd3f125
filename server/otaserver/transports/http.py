"""ThingsBoard's HTTP device API under /api/v1/{token} (spec §6.3), on the REST API's port."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse

from ..api.body import query_int, read_body
from ..api.disposition import attachment_headers
from ..api.routing import Operation, Param, services
from ..domain import faults
from ..domain.enums import OtaPackageType
from ..domain.errors import BadRequest, NotFound, OtaError
from ..domain.faults import Fault
from ..domain.ota import chunk_range
from ..domain.telemetry import split_keys
from ..metrics import Metrics
from ..services.device_api import DeviceIdentity
from ..sessions import SessionRegistry, Transport

READ_SIZE = 64 * 1024
DEFAULT_POLL_MS = 60_000
MAX_POLL_MS = 600_000
log = logging.getLogger(__name__)


class RequestTimeout(OtaError):
    status = 408


async def _device(request: Request) -> DeviceIdentity:
    return await services(request).device_api.authenticate(request.path_params["token"])


async def post_telemetry(request: Request) -> Response:
    device = await _device(request)
    await services(request).device_api.post_telemetry(device, await read_body(request))
    return Response(status_code=200)


async def post_attributes(request: Request) -> Response:
    device = await _device(request)
    await services(request).device_api.post_attributes(device, await read_body(request))
    return Response(status_code=200)


async def get_attributes(request: Request) -> Response:
    device = await _device(request)
    query = request.query_params
    api = services(request).device_api
    limit = api.limits.max_keys
    answer = await api.attributes(
        device,
        split_keys(*query.getlist("clientKeys"), limit=limit),
        split_keys(*query.getlist("sharedKeys"), limit=limit),
    )
    return JSONResponse(answer)


async def attribute_updates(request: Request) -> Response:
    """Long poll: the next shared-attribute update, or 408 when `timeout` ms pass first.

    A server that stops answers an open poll at once with the same 408: every device already
    handles it, as "nothing new, ask again" (an empty 200 would read as an empty update)."""
    device = await _device(request)
    timeout_ms = query_int(request, "timeout", 0) or DEFAULT_POLL_MS
    sessions: SessionRegistry = request.app.state.sessions
    updates: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    subscription = sessions.subscribe(device.device_id, updates.put_nowait, Transport.HTTP)
    # Debug only: a long poll is one request of many, already in the access log.
    log.debug("HTTP long poll opened: device %r", device.name, extra={"transport": "http"})
    try:
        update = await sessions.next_update(updates, min(timeout_ms, MAX_POLL_MS) / 1000)
    finally:
        subscription.close()
        log.debug("HTTP long poll closed: device %r", device.name, extra={"transport": "http"})
    if update is None:
        raise RequestTimeout("No attribute update before the timeout")
    return JSONResponse(update)


async def _download(request: Request, package_type: OtaPackageType) -> Response:
    started = time.perf_counter()
    query = request.query_params
    for name in ("title", "version"):
        if query.get(name) is None:
            raise BadRequest(f"Required request parameter '{name}' is not present")
    chunk_size = query_int(request, "size", 0)
    index = query_int(request, "chunk", 0)
    api = services(request).device_api
    _, package = await api.download_target(request.path_params["token"], package_type)
    data = None if package is None else api.data_of(package)
    if package is None or data is None:
        raise NotFound(f"No {package_type.value.lower()} is assigned to this device")
    unchecked = faults.active(Fault.TITLE_NOT_CHECKED)
    if (query["title"], query["version"]) != (package.title, package.version) and not unchecked:
        raise BadRequest(
            f"Requested {query['title']} {query['version']}, but the assigned "
            f"{package_type.value.lower()} is {package.title} {package.version}"
        )
    headers = attachment_headers(package.download_name)
    media_type = package.content_type or "application/octet-stream"
    if chunk_size == 0:
        # The whole file; Starlette answers a Range request with 206, so downloads resume.
        return FileResponse(data.path, media_type=media_type, headers=headers)
    start, end = chunk_range(data.size, chunk_size, index)
    headers["Content-Length"] = str(end - start)
    body = _timed(api.read(data, start, end), request.app.state.metrics, started)
    return StreamingResponse(body, media_type=media_type, headers=headers)


async def _timed(
    pieces: AsyncIterator[bytes], metrics: Metrics, started: float
) -> AsyncIterator[bytes]:
    """The chunk's bytes; once the last is handed to the server, the chunk's time is counted."""
    async for piece in pieces:
        yield piece
    metrics.chunk_served(Transport.HTTP, time.perf_counter() - started)


async def firmware(request: Request) -> Response:
    return await _download(request, OtaPackageType.FIRMWARE)


async def software(request: Request) -> Response:
    return await _download(request, OtaPackageType.SOFTWARE)


TAG = "Device API (HTTP)"
BASE = "/api/v1/{token}"
DOWNLOAD_QUERY = [
    Param("title", "Title of the assigned package", required=True),
    Param("version", "Version of the assigned package", required=True),
    Param("size", "Chunk size in bytes; 0 or none: the whole file", type="integer"),
    Param("chunk", "Chunk index from 0 (not a byte offset)", type="integer"),
]
OPERATIONS = [
    Operation(
        "POST",
        BASE + "/telemetry",
        post_telemetry,
        "Report telemetry: an object, {ts, values}, or an array",
        TAG,
        body="TelemetryBody",
        public=True,
    ),
    Operation(
        "POST",
        BASE + "/attributes",
        post_attributes,
        "Report client attributes",
        TAG,
        body="AttributesBody",
        public=True,
    ),
    Operation(
        "GET",
        BASE + "/attributes",
        get_attributes,
        "Read client and shared attributes",
        TAG,
        public=True,
        query=[
            Param("clientKeys", "Comma-separated keys"),
            Param("sharedKeys", "Comma-separated keys"),
        ],
        response="DeviceAttributes",
    ),
    Operation(
        "GET",
        BASE + "/attributes/updates",
        attribute_updates,
        "Long poll for the next shared-attribute update (408 on timeout)",
        TAG,
        public=True,
        query=[Param("timeout", "Milliseconds (default 60000)", type="integer")],
        response="AttributesBody",
        responses={408: "No update before the timeout"},
    ),
    Operation(
        "GET",
        BASE + "/firmware",
        firmware,
        "Download the assigned firmware, whole (Range supported) or by chunk",
        TAG,
        public=True,
        query=DOWNLOAD_QUERY,
        response="bytes",
    ),
    Operation(
        "GET",
        BASE + "/software",
        software,
        "Download the assigned software, whole (Range supported) or by chunk",
        TAG,
        public=True,
        query=DOWNLOAD_QUERY,
        response="bytes",
    ),
]
