"""Every route of the admin API, and the OpenAPI document that describes them."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import accounts, audit, devices, packages, tenancy
from .openapi import openapi_document
from .routing import Operation

OPERATIONS: list[Operation] = [
    *accounts.OPERATIONS,
    *tenancy.OPERATIONS,
    *devices.OPERATIONS,
    *packages.OPERATIONS,
    *audit.OPERATIONS,
]


async def openapi(_request: Request) -> Response:
    return JSONResponse(openapi_document(OPERATIONS))


def routes() -> list[Route]:
    # Literal paths first: /api/tenant/devices must win over /api/tenant/{tenantId}.
    ordered = sorted(OPERATIONS, key=lambda op: op.path.count("{"))
    return [Route("/openapi.json", openapi, methods=["GET"])] + [
        Route(op.path, op.handler, methods=[op.method]) for op in ordered
    ]
