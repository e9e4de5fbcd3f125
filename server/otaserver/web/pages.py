"""Serves the console's files: index.html at `/`, the rest under `/console/`.

The pages are plain HTML, CSS and JavaScript modules, with no build step and nothing fetched from
elsewhere; every answer carries a Content-Security-Policy that allows this origin only, so even
injected markup could run no script and reach no other site.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATIC = Path(__file__).parent / "static"
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    # A console page is always asked again, so a new otakit never runs an old page's script.
    "cache-control": "no-cache",
}


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.decode("latin-1").lower() not in SECURITY_HEADERS
                ]
                headers += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                message = {**message, "headers": headers}
            await send(message)

        await self._app(scope, receive, with_headers)


async def _index(_request: Request) -> Response:
    return FileResponse(
        STATIC / "index.html", media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS
    )


def console_routes() -> list[BaseRoute]:
    return [
        Route("/", _index, methods=["GET", "HEAD"]),
        Mount("/console", SecurityHeaders(StaticFiles(directory=STATIC)), name="console"),
    ]
