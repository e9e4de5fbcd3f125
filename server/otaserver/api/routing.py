"""Route declarations that carry their own documentation, so the OpenAPI document lists them all."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Receive, Scope, Send

from ..domain.errors import Forbidden, Unauthorized
from ..services.access import Principal
from ..services.container import Services
from .schema_parts import JsonDict

Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Param:
    """A query parameter. Its schema is text without NUL, or for `type="integer"` what
    body.query_int takes, unless `schema` says more (an enum, bounds, a pattern)."""

    name: str
    description: str
    required: bool = False
    type: str = "string"
    schema: JsonDict | None = None


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    query: Sequence[Param] = ()
    body: str | None = None  # a schema name of the OpenAPI components, or "multipart"
    response: str | None = None  # a schema name, "bytes", "text" or None for an empty body
    public: bool = False
    # Answers beyond 400, 401, 403 and 404 (which every operation may give).
    responses: dict[int, str] = field(default_factory=dict)
    # Schemas of path parameters; an `...Id` is a UUID and a `token` an access token unless
    # given here.
    path_params: Mapping[str, JsonDict] = field(default_factory=dict)


def services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


# The web console's login (api/web_session.py): the access token in an HttpOnly cookie, and
# beside it a value the page echoes in a header on every change it asks for.
SESSION_COOKIE = "otakit_session"
CSRF_COOKIE = "otakit_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def principal(request: Request) -> Principal:
    """The user of a request, from `X-Authorization: Bearer <jwt>` (or `Authorization`), else
    from the console's session cookie."""
    header = request.headers.get("x-authorization") or request.headers.get("authorization")
    if header:
        if not header.lower().startswith("bearer "):
            raise Unauthorized("Authentication failed")
        return await services(request).auth.authenticate(header[7:].strip())
    found = await cookie_principal(request)
    if found is None:
        raise Unauthorized("Authentication failed")
    return found


async def cookie_principal(request: Request) -> Principal | None:
    """The console's user, from its session cookie (None without one). A change asked with the
    cookie must also carry the login's CSRF value, which another site's page can neither read
    nor make up."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    auth = services(request).auth
    found = await auth.authenticate(cookie)
    offered = request.headers.get(CSRF_HEADER, "")
    if request.method not in SAFE_METHODS and not auth.csrf_matches(found.session_id, offered):
        raise Forbidden("Missing or wrong CSRF token")
    return found


def client_address(request: Request) -> str:
    """The client's address (a proxy's X-Forwarded-For when uvicorn trusts the proxy)."""
    return request.client.host if request.client else "unknown"


class PathRoute(Route):
    """Every method of one path in one route.

    A method the path lacks is a 405 whose Allow lists all the path's methods (a route per
    operation would list its own only), and a literal path such as /api/tenant/devices answers
    every method itself instead of letting /api/tenant/{tenantId} take DELETE as a tenant id.
    """

    def __init__(self, path: str, handlers: Mapping[str, Handler]) -> None:
        self._handlers = {method.upper(): handler for method, handler in handlers.items()}
        if "GET" in self._handlers:
            self._handlers["HEAD"] = self._handlers["GET"]
        super().__init__(path, self._dispatch, methods=list(self._handlers))

    async def _dispatch(self, request: Request) -> Response:
        return await self._handlers[request.method](request)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        return (Match.FULL if match is Match.PARTIAL else match), child_scope

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in self._handlers:
            raise HTTPException(405, headers={"Allow": ", ".join(sorted(self._handlers))})
        await self.app(scope, receive, send)
