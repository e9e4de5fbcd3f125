"""The audit log, as ThingsBoard lists it."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..domain.enums import ActionType, EntityType
from ..domain.errors import BadRequest
from .body import page_request, paging, parse_uuid
from .routing import Operation, Param, principal, services
from .schema_parts import comma_list
from .views import audit_json, page_json

TIME_PARAMS = (
    Param("startTime", "Earliest createdTime, ms", type="integer"),
    Param("endTime", "Latest createdTime, ms", type="integer"),
    Param(
        "actionTypes",
        "Comma-separated action types to keep",
        schema=comma_list(a.value for a in ActionType),
    ),
)


def _action_filter(request: Request) -> dict[str, Any]:
    raw = request.query_params.get("actionTypes")
    if not raw:
        return {}
    try:
        return {"action_type": [ActionType(name.strip()) for name in raw.split(",") if name]}
    except ValueError:
        allowed = ", ".join(a.value for a in ActionType)
        raise BadRequest(f"actionTypes must be among {allowed}") from None


async def _page(request: Request, **where: Any) -> Response:
    page = await services(request).audit.page(
        await principal(request), page_request(request), **where, **_action_filter(request)
    )
    return JSONResponse(page_json(page, audit_json))


async def all_logs(request: Request) -> Response:
    return await _page(request)


async def entity_logs(request: Request) -> Response:
    try:
        entity_type = EntityType(request.path_params["entityType"])
    except ValueError:
        raise BadRequest(f"Unknown entityType {request.path_params['entityType']!r}") from None
    return await _page(
        request, entity_type=entity_type, entity_id=parse_uuid(request.path_params["entityId"])
    )


async def user_logs(request: Request) -> Response:
    return await _page(request, user_id=parse_uuid(request.path_params["userId"]))


async def customer_logs(request: Request) -> Response:
    return await _page(request, customer_id=parse_uuid(request.path_params["customerId"]))


TAG = "Audit log"
QUERY = (
    *paging(
        ("createdTime", "entityType", "entityName", "userName", "type", "status"), "entity name"
    ),
    *TIME_PARAMS,
)
OPERATIONS = [
    Operation(
        "GET",
        "/api/audit/logs",
        all_logs,
        "Audit entries of the tenant",
        TAG,
        query=QUERY,
        response="PageDataAuditLog",
    ),
    Operation(
        "GET",
        "/api/audit/logs/entity/{entityType}/{entityId}",
        entity_logs,
        "Audit entries of one entity",
        TAG,
        query=QUERY,
        response="PageDataAuditLog",
        path_params={"entityType": {"enum": [t.value for t in EntityType]}},
    ),
    Operation(
        "GET",
        "/api/audit/logs/user/{userId}",
        user_logs,
        "Audit entries of one user",
        TAG,
        query=QUERY,
        response="PageDataAuditLog",
    ),
    Operation(
        "GET",
        "/api/audit/logs/customer/{customerId}",
        customer_logs,
        "Audit entries of one customer's users",
        TAG,
        query=QUERY,
        response="PageDataAuditLog",
    ),
]
