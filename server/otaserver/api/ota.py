"""The firmware dashboard's data (otakit's addition: ThingsBoard builds it from telemetry)."""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import UTC, datetime
from uuid import UUID

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..domain.enums import OtaPackageType
from ..domain.errors import BadRequest
from ..domain.model import PageRequest
from ..domain.orchestration import DASHBOARD_SORTS, Tab
from ..services.dashboard import DeviceRow, Filters
from ..services.dashboard_live import row_json
from .body import optional_int, package_type, page_request, paging, parse_uuid, query_int
from .routing import Operation, Param, principal, services
from .schema_parts import UUID_PATTERN, one_of_words, query_integer

MAX_BUCKETS = 1000
CSV_HEADER = (
    "device",
    "current title",
    "current version",
    "target title",
    "target version",
    "status",
    "progress",
    "last change",
    "error",
    "retries",
)


def _optional_id(request: Request, name: str) -> UUID | None:
    raw = request.query_params.get(name)
    return parse_uuid(raw, name) if raw else None


def filters(request: Request) -> Filters:
    """The filters every dashboard query takes: type, otaPackageId, deviceProfileId."""
    return Filters(
        package_type(request.query_params.get("type") or "FIRMWARE"),
        _optional_id(request, "otaPackageId"),
        _optional_id(request, "deviceProfileId"),
    )


def _tab(request: Request) -> Tab | None:
    raw_tab = request.query_params.get("tab")
    try:
        return Tab(raw_tab) if raw_tab else None
    except ValueError:
        raise BadRequest("Parameter 'tab' must be waiting, updating, updated or failed") from None


def _stale_for(request: Request) -> int | None:
    if not request.query_params.get("staleForMs"):
        return None
    return query_int(request, "staleForMs", minimum=1)


async def counts(request: Request) -> Response:
    return JSONResponse(
        await services(request).dashboard.counts(await principal(request), filters(request))
    )


def _sorted_page(request: Request) -> PageRequest:
    found = page_request(request)
    if found.sort_property is not None and found.sort_property not in DASHBOARD_SORTS:
        raise BadRequest(f"Parameter 'sortProperty' must be one of {', '.join(DASHBOARD_SORTS)}")
    return found


async def devices(request: Request) -> Response:
    page = await services(request).dashboard.devices(
        await principal(request),
        _sorted_page(request),
        filters(request),
        _tab(request),
        _stale_for(request),
    )
    return JSONResponse(
        {
            "data": [row_json(row) for row in page.data],
            "totalPages": page.total_pages,
            "totalElements": page.total_elements,
            "hasNext": page.has_next,
        }
    )


async def devices_csv(request: Request) -> Response:
    rows = await services(request).dashboard.all_devices(
        await principal(request),
        filters(request),
        _tab(request),
        _stale_for(request),
        request.query_params.get("textSearch") or None,
    )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    writer.writerows(_csv_row(row) for row in rows)
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="ota-devices.csv"'},
    )


def _csv_row(row: DeviceRow) -> list[object]:
    return [
        _cell(row.device_name),
        _cell(row.current_title),
        _cell(row.current_version),
        _cell(row.target_title),
        _cell(row.target_version),
        _cell(row.status),
        _cell(row.progress),
        "" if row.last_change is None else _iso(row.last_change),
        _cell(row.error),
        row.retries,
    ]


# A spreadsheet runs a cell that starts with one of these as a formula; the text in these
# cells comes from users and devices (an error a device reported), so it is never run.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _iso(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def timeline(request: Request) -> Response:
    buckets = query_int(request, "buckets", default=60, minimum=1)
    if buckets > MAX_BUCKETS:
        raise BadRequest(f"Parameter 'buckets' must be at most {MAX_BUCKETS}")
    found = await services(request).dashboard.timeline(
        await principal(request),
        filters(request),
        optional_int(request, "startTs"),
        optional_int(request, "endTs"),
        buckets,
    )
    return JSONResponse(found)


async def durations(request: Request) -> Response:
    found = await services(request).dashboard.durations(await principal(request), filters(request))
    return JSONResponse(found)


async def history(request: Request) -> Response:
    entries = await services(request).dashboard.history(
        await principal(request),
        parse_uuid(request.path_params["deviceId"]),
        package_type(request.query_params.get("type") or "FIRMWARE"),
    )
    return JSONResponse([_camel_keys(dataclasses.asdict(e)) for e in entries])


def _camel_keys(item: dict[str, object]) -> dict[str, object]:
    return {_camel(k): v for k, v in item.items()}


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
STALE_FOR = Param(
    "staleForMs",
    "Only devices not finished (waiting or updating) whose last change is older than this "
    "many ms (with a tab: of that tab too)",
    type="integer",
    schema=query_integer(1),
)
LIST_FILTERS = (
    *FILTERS,
    Param("tab", "waiting, updating, updated or failed; empty: all", schema=TABS),
    STALE_FOR,
)
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
        query=[*paging(DASHBOARD_SORTS, "device name"), *LIST_FILTERS],
        response="DashboardDevices",
    ),
    Operation(
        "GET",
        "/api/ota/dashboard/devices.csv",
        devices_csv,
        "Every row of the device table as CSV (attachment ota-devices.csv)",
        TAG,
        query=[Param("textSearch", "Case-insensitive substring of the device name"), *LIST_FILTERS],
        response="csv",
    ),
    Operation(
        "GET",
        "/api/ota/dashboard/timeline",
        timeline,
        "Devices per tab at the end of each time bucket, from the state history",
        TAG,
        query=[
            *FILTERS,
            Param("startTs", "Start, ms since the epoch; default: endTs - 24 h", type="integer"),
            Param("endTs", "End, ms since the epoch; default: now", type="integer"),
            Param(
                "buckets",
                "How many buckets; default 60",
                type="integer",
                schema=query_integer(1, MAX_BUCKETS),
            ),
        ],
        response="DashboardTimeline",
    ),
    Operation(
        "GET",
        "/api/ota/dashboard/durations",
        durations,
        "Update times (QUEUED, else INITIATED, to UPDATED) of the devices whose current target "
        "is UPDATED: percentiles and a histogram",
        TAG,
        query=FILTERS,
        response="DashboardDurations",
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
