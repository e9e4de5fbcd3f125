"""The web console's login: the same accounts and tokens as /api/auth, kept in cookies.

The access token sits in an HttpOnly cookie, so the page's scripts never hold it and it never
appears in a URL; SameSite=Strict keeps other sites' requests from carrying it. Every change
asked with the cookie also needs the login's CSRF value (routing.principal), which the page reads
from a cookie of its own and echoes in a header.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..domain.errors import Forbidden, Unauthorized
from ..services.auth import TokenPair
from .accounts import BUSY
from .body import json_body
from .routing import (
    CSRF_COOKIE,
    CSRF_HEADER,
    SESSION_COOKIE,
    Operation,
    client_address,
    cookie_principal,
    services,
)
from .views import user_json

REFRESH_COOKIE = "otakit_refresh"
SESSION_PATH = "/api/web/session"


def _same_origin(request: Request) -> None:
    """A login posted by another site's page is refused: it would sign the victim in as the
    attacker (login CSRF). Browsers send Origin on every cross-site POST."""
    origin = request.headers.get("origin")
    if origin and urlsplit(origin).netloc != request.headers.get("host", ""):
        raise Forbidden("Cross-site request refused")


async def _signed_in(request: Request, pair: TokenPair) -> Response:
    auth = services(request).auth
    user = await auth.authenticate(pair.token)
    current = await services(request).users.current(user)
    response = JSONResponse(user_json(current))
    secure = request.url.scheme == "https"
    for name, value, path, httponly in (
        (SESSION_COOKIE, pair.token, "/", True),
        (REFRESH_COOKIE, pair.refresh_token, SESSION_PATH, True),
        # The page reads this one and echoes it in X-CSRF-Token.
        (CSRF_COOKIE, auth.csrf_token(user.session_id), "/", False),
    ):
        response.set_cookie(
            name, value, path=path, httponly=httponly, secure=secure, samesite="strict"
        )
    return response


def _signed_out() -> Response:
    response = Response(status_code=200)
    for name, path in (
        (SESSION_COOKIE, "/"),
        (CSRF_COOKIE, "/"),
        (REFRESH_COOKIE, SESSION_PATH),
    ):
        response.delete_cookie(name, path=path, samesite="strict")
    return response


async def sign_in(request: Request) -> Response:
    _same_origin(request)
    body = await json_body(request)
    username = body.required_text("username", "username should be specified!")
    password = body.text("password", long=True) or ""
    pair = await services(request).logins.login(username, password, client_address(request))
    return await _signed_in(request, pair)


async def refresh(request: Request) -> Response:
    """New tokens for a login whose access token expired, from the refresh cookie."""
    token = request.cookies.get(REFRESH_COOKIE)
    if not token:
        raise Unauthorized("Authentication failed")
    auth = services(request).auth
    pair = await auth.refresh(token)
    user = await auth.authenticate(pair.token)
    if not auth.csrf_matches(user.session_id, request.headers.get(CSRF_HEADER, "")):
        raise Forbidden("Missing or wrong CSRF token")
    return await _signed_in(request, pair)


async def sign_out(request: Request) -> Response:
    """Ends the console's login (never a bearer token's: that is /api/auth/logout); the cookies
    go in any case, so a stale page can always sign out."""
    try:
        user = await cookie_principal(request)
    except Unauthorized:
        user = None
    if user is not None:
        await services(request).auth.logout(user)
    return _signed_out()


TAG = "Web console"
OPERATIONS = [
    Operation(
        "POST",
        SESSION_PATH,
        sign_in,
        "Log in to the web console: the tokens go into HttpOnly cookies, not the body",
        TAG,
        body="LoginRequest",
        response="User",
        public=True,
        responses=BUSY,
    ),
    Operation(
        "DELETE",
        SESSION_PATH,
        sign_out,
        "Log out of the web console (needs the X-CSRF-Token header)",
        TAG,
        public=True,
    ),
    Operation(
        "POST",
        f"{SESSION_PATH}/refresh",
        refresh,
        "New console cookies from the refresh cookie (needs the X-CSRF-Token header)",
        TAG,
        response="User",
        public=True,
    ),
]
