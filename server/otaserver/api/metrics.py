"""GET /metrics: Prometheus's text format, for the operator's scraper.

Not an API operation: it is left out of the OpenAPI document (it is not JSON, and not for
ThingsBoard's clients) and asks for no login, as Prometheus scrapes usually do not
authenticate. It shows counts only, never a tenant, device or package name; `--metrics off`
removes it where even counts must stay private (docs/decisions.md).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ..metrics import CONTENT_TYPE, Metrics
from ..sessions import SessionRegistry
from .routing import PathRoute, services

PATH = "/metrics"


async def scrape(request: Request) -> Response:
    metrics: Metrics = request.app.state.metrics
    sessions: SessionRegistry = request.app.state.sessions
    fleet = await services(request).monitoring.fleet_counts()
    return Response(metrics.exposition(sessions, fleet), media_type=CONTENT_TYPE)


def metrics_routes(enabled: bool) -> list[BaseRoute]:
    return [PathRoute(PATH, {"GET": scrape})] if enabled else []
