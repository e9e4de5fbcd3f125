"""The REST API as a tenant or system administrator reaches it: login, calls, a new tenant."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

import httpx

Entity = dict[str, Any]
ResponseHook = Callable[[httpx.Response], None]
TIMEOUT = 60.0
LOGIN_PATH = "/api/auth/login"


class RestError(Exception):
    """A REST call answered with another status than the caller needs; says which call, what
    came back, and the start of the body (the server's own explanation)."""

    def __init__(
        self, method: str, path: str, status: int, body: str, expected: int | None = None
    ) -> None:
        self.method, self.path, self.status, self.body = method, path, status, body
        wanted = f"expected {expected}, " if expected is not None else ""
        super().__init__(f"{method} {path}: {wanted}got {status}: {body[:300]}")


def answer(response: httpx.Response) -> Any:
    """A response's JSON, or its bytes when not JSON, or None when empty."""
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.content


def check(response: httpx.Response, expect: int | None, error: type[RestError] = RestError) -> Any:
    """The answer of a response that must have status `expect` (None: any status); else `error`,
    which a caller may narrow to an exception class of its own."""
    if expect is not None and response.status_code != expect:
        request = response.request
        raise error(request.method, request.url.path, response.status_code, response.text, expect)
    return answer(response)


def login_body(username: str, password: str) -> dict[str, str]:
    return {"username": username, "password": password}


def login(url: str, username: str, password: str) -> str:
    """The JWT of a fresh login; a refused one raises RestError (401 for a wrong password)."""
    response = httpx.post(url + LOGIN_PATH, json=login_body(username, password), timeout=30)
    return str(check(response, 200)["token"])


def client(
    url: str, username: str, password: str, hooks: Sequence[ResponseHook] = ()
) -> httpx.Client:
    """An HTTP client logged in to the REST API; `hooks` see every response (to note what the
    caller creates, say)."""
    http = httpx.Client(base_url=url, timeout=TIMEOUT, event_hooks={"response": list(hooks)})
    http.headers["X-Authorization"] = "Bearer " + login(url, username, password)
    return http


def call(
    http: httpx.Client, method: str, path: str, expect: int | None = 200, **kwargs: Any
) -> Any:
    """A REST call that must answer `expect`; its JSON (or bytes, or None when empty)."""
    return check(http.request(method, path, **kwargs), expect)


def profile_body(name: str) -> Entity:
    """A device profile as ThingsBoard's UI creates one: default transport, no provisioning."""
    return {
        "name": name,
        "type": "DEFAULT",
        "transportType": "DEFAULT",
        "provisionType": "DISABLED",
        "profileData": {
            "configuration": {"type": "DEFAULT"},
            "transportConfiguration": {"type": "DEFAULT"},
            "provisionConfiguration": {"type": "DISABLED"},
        },
    }


def new_tenant_admin(
    url: str,
    sysadmin: tuple[str, str],
    prefix: str,
    on_tenant: Callable[[str], None] | None = None,
) -> tuple[str, str]:
    """A new tenant and its administrator (email, password), activated through ThingsBoard's
    activation link.

    `on_tenant` hears the tenant's id as soon as it exists, so that a cleanup finds it even when
    a later step fails; deleting the tenant deletes all it holds."""
    password = f"{prefix}-{uuid.uuid4().hex[:12]}"
    with client(url, *sysadmin) as http:
        tenant = call(http, "POST", "/api/tenant", json={"title": f"{prefix}-{uuid.uuid4().hex}"})
        if on_tenant is not None:
            on_tenant(str(tenant["id"]["id"]))
        email = new_user(http, "TENANT_ADMIN", prefix, password, tenant_id=str(tenant["id"]["id"]))
    return email, password


def new_user(
    http: httpx.Client,
    authority: str,
    prefix: str,
    password: str,
    tenant_id: str | None = None,
    customer_id: str | None = None,
) -> str:
    """A new user (its email) with this authority, in the caller's tenant or the one given (a
    system administrator making a tenant administrator), of a customer for a customer user;
    activated with `password`."""
    email = f"{prefix}-{uuid.uuid4().hex[:8]}@otakit.test"
    body: Entity = {"email": email, "authority": authority}
    if tenant_id:
        body["tenantId"] = {"entityType": "TENANT", "id": tenant_id}
    if customer_id:
        body["customerId"] = {"entityType": "CUSTOMER", "id": customer_id}
    user = call(http, "POST", "/api/user", params={"sendActivationMail": "false"}, json=body)
    activate(http, str(user["id"]["id"]), password)
    return email


def activate(http: httpx.Client, user_id: str, password: str) -> Entity:
    """Sets a new user's password through ThingsBoard's activation link (read by its creator);
    the user's first tokens."""
    link = http.get(f"/api/user/{user_id}/activationLink")
    check(link, 200)  # a plain-text URL
    token = link.text.split("activateToken=", 1)[1]
    answer = call(
        http, "POST", "/api/noauth/activate", json={"activateToken": token, "password": password}
    )
    return answer  # type: ignore[no-any-return]
