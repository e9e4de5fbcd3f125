"""Every route of the admin API, and the OpenAPI document that describes them."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import accounts, audit, devices, ota, packages, telemetry, tenancy
from .openapi import openapi_document
from .routing import Operation

OPERATIONS: list[Operation] = [
    *accounts.OPERATIONS,
    *tenancy.OPERATIONS,
    *devices.OPERATIONS,
    *packages.OPERATIONS,
    *audit.OPERATIONS,
    *telemetry.OPERATIONS,
    *ota.OPERATIONS,
]


def routes(more: Sequence[Operation] = ()) -> list[Route]:
    """The admin API's routes, the `more` of other adapters, and the OpenAPI document of all."""
    operations = [*OPERATIONS, *more]
    document = openapi_document(operations)

    async def openapi(_request: Request) -> Response:
        return JSONResponse(document)

    # Literal paths first: /api/tenant/devices must win over /api/tenant/{tenantId}.
    ordered = sorted(operations, key=lambda op: op.path.count("{"))
    return [Route("/openapi.json", openapi, methods=["GET"])] + [
        Route(op.path, op.handler, methods=[op.method]) for op in ordered
    ]
