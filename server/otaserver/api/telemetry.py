"""ThingsBoard's telemetry plugin API for devices: attributes and time series."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..domain.aggregation import MAX_INTERVALS, Aggregation, parse_aggregation
from ..domain.errors import BadRequest
from ..domain.telemetry import AttributeScope, TelemetryPoint, split_keys
from ..services.telemetry import MAX_POINTS
from .body import optional_int, parse_uuid, query_int, read_body
from .routing import Operation, Param, principal, services
from .schema_parts import NOT_NUL, WHITE_SPACE, one_of_words, query_integer

BASE = "/api/plugins/telemetry/{entityType}/{entityId}"
DEFAULT_LIMIT = 100


def _device_id(request: Request) -> UUID:
    if request.path_params["entityType"] != "DEVICE":
        raise BadRequest("otakit keeps attributes and telemetry of DEVICE entities only")
    return parse_uuid(request.path_params["entityId"])


def _scope(request: Request) -> AttributeScope:
    name = request.path_params["scope"]
    try:
        return AttributeScope(name)
    except ValueError:
        allowed = ", ".join(s.value for s in AttributeScope)
        raise BadRequest(f"Unknown attribute scope '{name}'; use one of {allowed}") from None


def _keys(request: Request) -> list[str] | None:
    limit = services(request).limits.max_keys
    return split_keys(*request.query_params.getlist("keys"), limit=limit)


def wire_value(value: Any, strict: bool) -> Any:
    """ThingsBoard's REST answers values as text unless `useStrictDataTypes=true`."""
    if strict or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"))


async def save_attributes(request: Request) -> Response:
    await services(request).telemetry.save_attributes(
        await principal(request), _device_id(request), _scope(request), await read_body(request)
    )
    return Response(status_code=200)


async def delete_attributes(request: Request) -> Response:
    keys = _keys(request)
    if not keys:
        raise BadRequest("Parameter 'keys' is required")
    await services(request).telemetry.delete_attributes(
        await principal(request), _device_id(request), _scope(request), keys
    )
    return Response(status_code=200)


async def _attributes(request: Request, scopes: list[AttributeScope]) -> Response:
    found = await services(request).telemetry.attributes(
        await principal(request), _device_id(request), scopes, _keys(request)
    )
    return JSONResponse(
        [{"key": a.key, "value": a.value, "lastUpdateTs": a.last_update_ts} for a in found]
    )


async def scoped_attributes(request: Request) -> Response:
    return await _attributes(request, [_scope(request)])


async def all_attributes(request: Request) -> Response:
    return await _attributes(request, list(AttributeScope))


async def timeseries(request: Request) -> Response:
    """Latest values; or, with keys, startTs and endTs all given, the history between them
    (newest first unless orderBy=ASC): ThingsBoard chooses between its two handlers so."""
    user, device_id, keys = await principal(request), _device_id(request), _keys(request)
    strict = request.query_params.get("useStrictDataTypes", "false").lower() == "true"
    # Every parameter is checked, even those the latest values do not use.
    start, end = optional_int(request, "startTs"), optional_int(request, "endTs")
    limit = query_int(request, "limit", DEFAULT_LIMIT, minimum=1)
    if limit > MAX_POINTS:
        raise BadRequest(f"Parameter 'limit' must be at most {MAX_POINTS}")
    order = (request.query_params.get("orderBy") or "DESC").upper()
    if order not in ("ASC", "DESC"):
        raise BadRequest("Parameter 'orderBy' must be ASC or DESC")
    aggregation = parse_aggregation(request.query_params.get("agg"))
    # ThingsBoard aggregates only over a positive interval; 0 (the default) reads the values.
    interval = query_int(request, "interval", 0)
    telemetry = services(request).telemetry
    series: dict[str, list[TelemetryPoint]]
    if keys and start is not None and end is not None:
        if aggregation is not Aggregation.NONE and interval > 0:
            series = await telemetry.aggregated(
                user, device_id, keys, start, end, interval, aggregation
            )
        else:
            series = await telemetry.history(
                user, device_id, keys, start, end, limit, order == "DESC"
            )
    else:
        latest = await telemetry.latest(user, device_id, keys)
        series = {key: [point] for key, point in latest.items()}
    return JSONResponse(
        {
            key: [{"ts": p.ts, "value": wire_value(p.value, strict)} for p in points]
            for key, points in series.items()
        }
    )


async def attribute_keys(request: Request) -> Response:
    scopes = [_scope(request)] if "scope" in request.path_params else list(AttributeScope)
    keys = await services(request).telemetry.attribute_keys(
        await principal(request), _device_id(request), scopes
    )
    return JSONResponse(keys)


async def timeseries_keys(request: Request) -> Response:
    keys = await services(request).telemetry.keys(await principal(request), _device_id(request))
    return JSONResponse(keys)


TAG = "Telemetry"
KEYS = Param("keys", "Comma-separated keys")
# Users write shared and server attributes; client attributes are the device's own.
WRITE_PATH = {
    "entityType": {"enum": ["DEVICE"]},
    "scope": {"enum": [AttributeScope.SERVER_SCOPE.value, AttributeScope.SHARED_SCOPE.value]},
}
READ_PATH = {
    "entityType": {"enum": ["DEVICE"]},
    "scope": {"enum": [s.value for s in AttributeScope]},
}
ORDER = {"type": "string", "pattern": "^([Aa][Ss][Cc]|[Dd][Ee][Ss][Cc])?$"}
OPERATIONS = [
    Operation(
        "POST",
        BASE + "/attributes/{scope}",
        save_attributes,
        "Save SHARED_SCOPE or SERVER_SCOPE attributes; shared ones reach the device",
        TAG,
        body="AttributesBody",
        path_params=WRITE_PATH,
    ),
    Operation(
        "POST",
        BASE + "/{scope}",
        save_attributes,
        "Save attributes (ThingsBoard's v2 path)",
        TAG,
        body="AttributesBody",
        path_params=WRITE_PATH,
    ),
    Operation(
        "DELETE",
        BASE + "/{scope}",
        delete_attributes,
        "Delete attributes; deleted shared keys reach the device",
        TAG,
        query=[
            Param(
                "keys",
                "Comma-separated keys, at least one",
                required=True,
                schema={
                    "type": "string",
                    "pattern": f"^{NOT_NUL}*[^\\u0000,{WHITE_SPACE}]{NOT_NUL}*$",
                },
            )
        ],
        path_params=READ_PATH,
    ),
    Operation(
        "GET",
        BASE + "/values/attributes/{scope}",
        scoped_attributes,
        "Attributes of one scope",
        TAG,
        query=[KEYS],
        response="AttributeList",
        path_params=READ_PATH,
    ),
    Operation(
        "GET",
        BASE + "/values/attributes",
        all_attributes,
        "Attributes of every scope",
        TAG,
        query=[KEYS],
        response="AttributeList",
        path_params=READ_PATH,
    ),
    Operation(
        "GET",
        BASE + "/values/timeseries",
        timeseries,
        "Latest telemetry, or its history between startTs and endTs",
        TAG,
        query=[
            KEYS,
            Param("startTs", "From, ms; with keys and endTs: the history", type="integer"),
            Param("endTs", "To, ms; with keys and startTs: the history", type="integer"),
            Param("limit", "Points per key (100)", schema=query_integer(1, MAX_POINTS)),
            Param("orderBy", "ASC or DESC (default), in any case", schema=ORDER),
            Param("useStrictDataTypes", "true (in any case): values keep their JSON types"),
            Param(
                "agg",
                "NONE (default), AVG, MIN, MAX, SUM or COUNT: with a positive interval, one "
                "value per interval between startTs and endTs, oldest first (limit and orderBy "
                "then do not apply, as in ThingsBoard)",
                schema=one_of_words((a.value for a in Aggregation), empty=True),
            ),
            Param(
                "interval",
                f"Milliseconds per aggregation interval; 0 (default): no aggregation; at most "
                f"{MAX_INTERVALS} intervals between startTs and endTs",
                schema=query_integer(0),
            ),
        ],
        response="TimeseriesMap",
        path_params=READ_PATH,
    ),
    Operation(
        "GET",
        BASE + "/keys/timeseries",
        timeseries_keys,
        "Telemetry keys of a device",
        TAG,
        response="KeyList",
        path_params=READ_PATH,
    ),
    Operation(
        "GET",
        BASE + "/keys/attributes",
        attribute_keys,
        "Attribute keys of a device, of every scope",
        TAG,
        response="KeyList",
        path_params=READ_PATH,
    ),
    Operation(
        "GET",
        BASE + "/keys/attributes/{scope}",
        attribute_keys,
        "Attribute keys of a device, of one scope",
        TAG,
        response="KeyList",
        path_params=READ_PATH,
    ),
]
