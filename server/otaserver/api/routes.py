"""Every route of the admin API, and the OpenAPI document that describes them."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from ..domain.inputs import InputLimits
from . import (
    accounts,
    audit,
    device_infos,
    devices,
    live,
    ota,
    packages,
    telemetry,
    tenancy,
    web_session,
)
from .openapi import openapi_document
from .routing import Handler, Operation, PathRoute

OPERATIONS: list[Operation] = [
    *accounts.OPERATIONS,
    *tenancy.OPERATIONS,
    *devices.OPERATIONS,
    *device_infos.OPERATIONS,
    *packages.OPERATIONS,
    *audit.OPERATIONS,
    *telemetry.OPERATIONS,
    *ota.OPERATIONS,
    *web_session.OPERATIONS,
    *live.OPERATIONS,
]


def routes(more: Sequence[Operation] = (), limits: InputLimits | None = None) -> list[BaseRoute]:
    """The admin API's routes, the `more` of other adapters, and the OpenAPI document of all."""
    operations = [*OPERATIONS, *more]
    document = openapi_document(operations, limits or InputLimits())

    async def openapi(_request: Request) -> Response:
        return JSONResponse(document)

    handlers: dict[str, dict[str, Handler]] = {}
    for op in operations:
        handlers.setdefault(op.path, {})[op.method] = op.handler
    # The path whose first parameter comes latest wins: /api/tenant/devices over
    # /api/tenant/{tenantId}, /api/customer/device/{deviceId} over /api/customer/{customerId}/...
    ordered = sorted(handlers, key=lambda path: [part[:1] == "{" for part in path.split("/")])
    return [
        PathRoute("/openapi.json", {"GET": openapi}),
        *(PathRoute(path, handlers[path]) for path in ordered),
    ]
