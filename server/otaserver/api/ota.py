"""The firmware dashboard's data (otakit's addition: ThingsBoard builds it from telemetry)."""

from __future__ import annotations

import dataclasses
from uuid import UUID

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..domain.enums import EntityType, OtaPackageType
from ..domain.errors import BadRequest
from ..domain.orchestration import Tab
from .body import entity_id_json, package_type, page_request, paging, parse_uuid
from .routing import Operation, Param, principal, services
from .schema_parts import UUID_PATTERN, one_of_words


def _optional_id(request: Request, name: str) -> UUID | None:
    raw = request.query_params.get(name)
    return parse_uuid(raw, name) if raw else None


async def counts(request: Request) -> Response:
    found = await services(request).dashboard.counts(
        await principal(request),
        package_type(request.query_params.get("type") or "FIRMWARE"),
        _optional_id(request, "otaPackageId"),
        _optional_id(request, "deviceProfileId"),
    )
    return JSONResponse(found)


async def devices(request: Request) -> Response:
    raw_tab = request.query_params.get("tab")
    try:
        tab = Tab(raw_tab) if raw_tab else None
    except ValueError:
        raise BadRequest("Parameter 'tab' must be waiting, updating, updated or failed") from None
    page = await services(request).dashboard.devices(
        await principal(request),
        page_request(request),
        package_type(request.query_params.get("type") or "FIRMWARE"),
        _optional_id(request, "otaPackageId"),
        _optional_id(request, "deviceProfileId"),
        tab,
    )
    data = []
    for row in page.data:
        item = {_camel(k): v for k, v in dataclasses.asdict(row).items()}
        item["deviceId"] = entity_id_json(EntityType.DEVICE, row.device_id)
        data.append(item)
    return JSONResponse(
        {
            "data": data,
            "totalPages": page.total_pages,
            "totalElements": page.total_elements,
            "hasNext": page.has_next,
        }
    )


async def history(request: Request) -> Response:
    entries = await services(request).dashboard.history(
        await principal(request),
        parse_uuid(request.path_params["deviceId"]),
        package_type(request.query_params.get("type") or "FIRMWARE"),
    )
    return JSONResponse([dataclasses.asdict(e) for e in entries])


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


TAG = "Update dashboard"
TYPE = Param(
    "type",
    "FIRMWARE (default: empty or left out) or SOFTWARE",
    schema=one_of_words((t.value for t in OtaPackageType), empty=True),
)
# An id, or empty for none.
OPTIONAL_ID = {"type": "string", "pattern": f"^({UUID_PATTERN[1:-1]})?$"}
FILTERS = (
    TYPE,
    Param("otaPackageId", "Only devices whose target is this package", schema=OPTIONAL_ID),
    Param("deviceProfileId", "Only devices of this profile", schema=OPTIONAL_ID),
)
TABS = one_of_words((t.value for t in Tab), empty=True)
OPERATIONS = [
    Operation(
        "GET",
        "/api/ota/dashboard/counts",
        counts,
        "Devices per tab: waiting, updating, updated, failed",
        TAG,
        query=FILTERS,
        response="DashboardCounts",
    ),
    Operation(
        "GET",
        "/api/ota/dashboard/devices",
        devices,
        "Devices with current and target package, status, progress, last change",
        TAG,
        query=[
            *paging(None, "device name"),
            *FILTERS,
            Param("tab", "waiting, updating, updated or failed; empty: all", schema=TABS),
        ],
        response="DashboardDevices",
    ),
    Operation(
        "GET",
        "/api/ota/device/{deviceId}/history",
        history,
        "Every status a device went through, oldest first",
        TAG,
        query=[TYPE],
        response="UpdateHistory",
    ),
]
