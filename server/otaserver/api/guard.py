"""Refuses, before any route runs, a URL that no database could store parts of.

Tokens, names, search texts and keys from the path and the query go into database queries.
A NUL character in them is an internal error on PostgreSQL and a silent mismatch on SQLite;
here it is a 400 on both, for every route at once.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from .errors import error_response


class UrlTextGuard:
    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            query: bytes = scope.get("query_string", b"")
            if "\x00" in scope.get("path", "") or b"\x00" in query or b"%00" in query:
                message = "Invalid text in the URL: it contains a NUL character"
                await error_response(400, message)(scope, receive, send)
                return
        await self._app(scope, receive, send)
