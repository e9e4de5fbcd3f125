"""Login, tokens and users."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from ..domain.errors import BadRequest
from ..services.auth import TokenPair
from .body import Body, json_body, page_request, paging, parse_uuid
from .forms import user_form
from .routing import Operation, Param, client_address, principal, services
from .views import page_json, user_json


def _required_password(body: Body, name: str) -> str:
    password = body.text(name, long=True)
    if not password:
        raise BadRequest(f"{name} should be specified!")
    return password


def _pair(pair: TokenPair) -> JSONResponse:
    return JSONResponse({"token": pair.token, "refreshToken": pair.refresh_token})


async def login(request: Request) -> Response:
    body = await json_body(request)
    username = body.required_text("username", "username should be specified!")
    password = body.text("password", long=True) or ""
    logins = services(request).logins
    return _pair(await logins.login(username, password, client_address(request)))


async def refresh(request: Request) -> Response:
    body = await json_body(request)
    token = body.required_text("refreshToken", "refreshToken should be specified!", long=True)
    return _pair(await services(request).auth.refresh(token))


async def logout(request: Request) -> Response:
    await services(request).auth.logout(await principal(request))
    return Response(status_code=200)


async def current_user(request: Request) -> Response:
    return JSONResponse(user_json(await services(request).users.current(await principal(request))))


async def change_password(request: Request) -> Response:
    body = await json_body(request)
    pair = await services(request).users.change_password(
        await principal(request),
        body.text("currentPassword", long=True) or "",
        _required_password(body, "newPassword"),
    )
    return _pair(pair)


async def activate(request: Request) -> Response:
    body = await json_body(request)
    token = body.required_text("activateToken", "activateToken should be specified!", long=True)
    return _pair(
        await services(request).users.activate(token, _required_password(body, "password"))
    )


async def save_user(request: Request) -> Response:
    mail = request.query_params.get("sendActivationMail", "").lower()
    if mail == "true":
        raise BadRequest(
            "otakit sends no mail: use sendActivationMail=false and the activation link"
        )
    if mail not in ("", "false"):
        raise BadRequest("Parameter 'sendActivationMail' must be true or false")
    user = await services(request).users.save(
        await principal(request), user_form(await json_body(request))
    )
    return JSONResponse(user_json(user))


async def get_user(request: Request) -> Response:
    user_id = parse_uuid(request.path_params["userId"])
    return JSONResponse(
        user_json(await services(request).users.get(await principal(request), user_id))
    )


async def delete_user(request: Request) -> Response:
    user_id = parse_uuid(request.path_params["userId"])
    await services(request).users.delete(await principal(request), user_id)
    return Response(status_code=200)


async def activation_link(request: Request) -> Response:
    user_id = parse_uuid(request.path_params["userId"])
    base = str(request.base_url).rstrip("/")
    link = await services(request).users.activation_link(await principal(request), user_id, base)
    return PlainTextResponse(link)


async def tenant_admins(request: Request) -> Response:
    tenant_id = parse_uuid(request.path_params["tenantId"])
    page = await services(request).users.page(
        await principal(request), page_request(request), tenant_id=tenant_id
    )
    return JSONResponse(page_json(page, user_json))


async def customer_users(request: Request) -> Response:
    customer_id = parse_uuid(request.path_params["customerId"])
    page = await services(request).users.page(
        await principal(request), page_request(request), customer_id=customer_id
    )
    return JSONResponse(page_json(page, user_json))


TAG = "Users and login"
USER_PAGING = paging(("createdTime", "email", "firstName", "lastName"), "email")
# Logins and password changes wait for a bounded number of password hashes.
BUSY = {429: "Too many logins at once, or too many failed ones: try again later"}
OPERATIONS = [
    Operation(
        "POST",
        "/api/auth/login",
        login,
        "Log in; returns a token pair",
        TAG,
        body="LoginRequest",
        response="JwtPair",
        public=True,
        responses=BUSY,
    ),
    Operation(
        "POST",
        "/api/auth/token",
        refresh,
        "Exchange a refresh token for a new pair",
        TAG,
        body="RefreshRequest",
        response="JwtPair",
        public=True,
    ),
    Operation("POST", "/api/auth/logout", logout, "Log out: this login's tokens stop working", TAG),
    Operation("GET", "/api/auth/user", current_user, "The logged-in user", TAG, response="User"),
    Operation(
        "POST",
        "/api/auth/changePassword",
        change_password,
        "Change one's password",
        TAG,
        body="ChangePasswordRequest",
        response="JwtPair",
        responses=BUSY,
    ),
    Operation(
        "POST",
        "/api/noauth/activate",
        activate,
        "Set the password of a new user from its activation token",
        TAG,
        body="ActivateRequest",
        response="JwtPair",
        public=True,
        responses=BUSY,
    ),
    Operation(
        "POST",
        "/api/user",
        save_user,
        "Create or update a user",
        TAG,
        query=[
            Param(
                "sendActivationMail",
                "false (in any case) or left out: otakit sends no mail",
                schema={"type": "string", "pattern": "^([Ff][Aa][Ll][Ss][Ee])?$"},
            )
        ],
        body="UserRequest",
        response="User",
    ),
    Operation("GET", "/api/user/{userId}", get_user, "A user", TAG, response="User"),
    Operation("DELETE", "/api/user/{userId}", delete_user, "Delete a user", TAG),
    Operation(
        "GET",
        "/api/user/{userId}/activationLink",
        activation_link,
        "The link with which a new user sets a password",
        TAG,
        response="text",
    ),
    Operation(
        "GET",
        "/api/tenant/{tenantId}/users",
        tenant_admins,
        "Administrators of a tenant (system administrator)",
        TAG,
        query=USER_PAGING,
        response="PageDataUser",
    ),
    Operation(
        "GET",
        "/api/customer/{customerId}/users",
        customer_users,
        "Users of a customer",
        TAG,
        query=USER_PAGING,
        response="PageDataUser",
    ),
]
