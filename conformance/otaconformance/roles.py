"""The REST callers of the role matrix, got from any ThingsBoard-compatible server by URL.

- TENANT_ADMIN: the target's own tenant administrator (`Target.http`).
- SYSADMIN and OTHER_TENANT_ADMIN need the system administrator's account (`Target.sysadmin`):
  the second is the administrator of a new tenant, made once per run and shared by the modules.
- CUSTOMER_USER and OTHER_CUSTOMER_USER: users of two new customers of our tenant, the first
  owning the device (`POST /api/customer/{customerId}/device/{deviceId}`); each user is made with
  `POST /api/user` (authority CUSTOMER_USER) and activated through ThingsBoard's activation link
  (`GET /api/user/{id}/activationLink`, `POST /api/noauth/activate`), whose answer carries the
  user's first tokens.
- NO_TOKEN: no `X-Authorization` header at all.
- EXPIRED_TOKEN: see `expired_token`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

import httpx
from otatarget.rest import TIMEOUT, call, check, client

from .rules import Role
from .target import Entity, Target

# The HMAC algorithms of a JWT header, by name: ThingsBoard signs with HS512, otakit with HS256.
HMACS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
EXPIRED_AGO = 3600  # seconds: an hour past its expiry, beyond any clock skew a server allows
NO_SYSADMIN = "needs the system administrator's account (--sysadmin-username, --sysadmin-password)"
NO_KEY = (
    "needs the key the server signs its tokens with (Target.jwt_key): a token whose exp has "
    "passed must carry the server's own signature, else it is refused for its signature, not "
    "for its age"
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def resigned(token: str, key: bytes | str, issued: int, lifetime: int) -> str | None:
    """The server's `token` with `iat` and `exp` moved (issued at `issued`, for `lifetime`
    seconds), signed again with the server's `key`; None for a token not signed with an HMAC."""
    header_text, claims_text, _ = token.split(".")
    digest = HMACS.get(str(json.loads(_unb64(header_text)).get("alg")))
    if digest is None:
        return None
    claims = {**json.loads(_unb64(claims_text)), "iat": issued, "exp": issued + lifetime}
    signed = f"{header_text}.{_b64(json.dumps(claims, separators=(',', ':')).encode())}"
    secret = key.encode() if isinstance(key, str) else key
    return f"{signed}.{_b64(hmac.new(secret, signed.encode(), digest).digest())}"


def expired_token(url: str, token: str, key: bytes | str | None) -> tuple[str | None, str]:
    """The server's own token (`token`, of a live login) as it was signed long enough ago to have
    expired, or None and why not.

    Why this way: a server's genuine expired token needs its token lifetime to pass (2.5 hours by
    default on ThingsBoard and otakit), and a short lifetime would expire every token of the run.
    A token with `exp` changed but the old signature tests the signature check, not the expiry;
    and a logged-out token tests the logout (ThingsBoard keeps accepting some until they expire).
    Re-signed with the server's key, the token is one the server could have issued two hours
    ago, for a login that is still live. The same token re-signed as issued now must be accepted
    (else the key is not the server's), so the only reason left to refuse it is its age.
    """
    if key is None:
        return None, NO_KEY
    now = int(time.time())
    fresh = resigned(token, key, now, EXPIRED_AGO)
    if fresh is None:
        return None, "the server's tokens are not signed with an HMAC: cannot sign one"
    with bare_client(url, fresh) as http:
        status = http.get("/api/auth/user").status_code
    if status != 200:
        return None, f"a token signed with the key given is refused ({status}): not the server's"
    return resigned(token, key, now - 2 * EXPIRED_AGO, EXPIRED_AGO), ""


def bare_client(url: str, token: str | None = None) -> httpx.Client:
    http = httpx.Client(base_url=url, timeout=TIMEOUT)
    if token is not None:
        http.headers["X-Authorization"] = "Bearer " + token
    return http


def new_customer(target: Target) -> str:
    """A new customer of our tenant (noted for the cleanup, which deletes its users with it)."""
    found = target.call("POST", "/api/customer", json={"title": f"conf-{uuid.uuid4().hex[:8]}"})
    return str(found["id"]["id"])


def give_to_customer(target: Target, customer_id: str, device: Entity) -> Entity:
    """Assigns the device to the customer; the device as saved."""
    path = f"/api/customer/{customer_id}/device/{device['id']['id']}"
    return target.call("POST", path)  # type: ignore[no-any-return]


def new_user(creator: httpx.Client, body: Entity) -> str:
    """A new user (`body` names its email, authority, tenant or customer) and the access token
    of its first login, activated as ThingsBoard's UI does it: a user is made without a password,
    set through its activation link, which answers with the user's tokens (no second login: a
    password hash costs the server most of a second)."""
    user = call(creator, "POST", "/api/user", params={"sendActivationMail": "false"}, json=body)
    link = creator.get(f"/api/user/{user['id']['id']}/activationLink")
    check(link, 200)  # a plain-text URL
    activation = link.text.split("activateToken=", 1)[1]
    with bare_client(str(creator.base_url)) as anonymous:
        pair = call(
            anonymous,
            "POST",
            "/api/noauth/activate",
            json={"activateToken": activation, "password": f"conf-{uuid.uuid4().hex}"},
        )
    return str(pair["token"])


def new_email() -> str:
    return f"conf-{uuid.uuid4().hex[:8]}@otakit.test"


def new_customer_user(target: Target, customer_id: str) -> str:
    """A user of the customer: its access token."""
    body = {
        "email": new_email(),
        "authority": "CUSTOMER_USER",
        "customerId": {"entityType": "CUSTOMER", "id": customer_id},
    }
    return new_user(target.http, body)


@dataclass(frozen=True)
class Administrators:
    """The system administrator's token and the token of a second tenant's administrator."""

    sysadmin: str
    other_tenant_admin: str


_ADMINISTRATORS: dict[int, tuple[Target, Administrators]] = {}


def administrators(target: Target) -> Administrators | None:
    """The system administrator and a second tenant's administrator, made once per target for
    every module (None without the system administrator's account). The target's cleanup
    deletes the tenant."""
    if target.sysadmin is None:
        return None
    known = _ADMINISTRATORS.get(id(target))
    if known is not None and known[0] is target:
        return known[1]
    with client(target.url, *target.sysadmin) as sysadmin:
        tenant = call(sysadmin, "POST", "/api/tenant", json={"title": f"conf-other-{uuid.uuid4()}"})
        target.created.tenants.append(str(tenant["id"]["id"]))
        body = {"email": new_email(), "authority": "TENANT_ADMIN", "tenantId": tenant["id"]}
        other = new_user(sysadmin, body)
        token = str(sysadmin.headers["X-Authorization"]).removeprefix("Bearer ")
    found = Administrators(token, other)
    _ADMINISTRATORS[id(target)] = (target, found)
    return found


@dataclass
class Callers:
    """A client per role (None with the reason where this target cannot give one), and the
    customer whose user is CUSTOMER_USER."""

    customer_id: str
    other_customer_id: str
    clients: dict[Role, httpx.Client] = field(default_factory=dict)
    missing: dict[Role, str] = field(default_factory=dict)

    def client(self, role: Role) -> httpx.Client | None:
        return self.clients.get(role)


@contextmanager
def callers(target: Target) -> Iterator[Callers]:
    """Every role's client for the run of one module; closes the ones it opened."""
    with ExitStack() as opened:

        def with_token(role: Role, token: str | None) -> None:
            found.clients[role] = opened.enter_context(bare_client(target.url, token))

        found = Callers(new_customer(target), new_customer(target))
        found.clients[Role.TENANT_ADMIN] = target.http
        with_token(Role.CUSTOMER_USER, new_customer_user(target, found.customer_id))
        with_token(Role.OTHER_CUSTOMER_USER, new_customer_user(target, found.other_customer_id))
        admins = administrators(target)
        if admins is None:
            found.missing[Role.SYSADMIN] = NO_SYSADMIN
            found.missing[Role.OTHER_TENANT_ADMIN] = NO_SYSADMIN + " to make a second tenant"
        else:
            with_token(Role.SYSADMIN, admins.sysadmin)
            with_token(Role.OTHER_TENANT_ADMIN, admins.other_tenant_admin)
        with_token(Role.NO_TOKEN, None)
        token = str(target.http.headers["X-Authorization"]).removeprefix("Bearer ")
        expired, why_not = expired_token(target.url, token, target.jwt_key)
        if expired is None:
            found.missing[Role.EXPIRED_TOKEN] = why_not
        else:
            with_token(Role.EXPIRED_TOKEN, expired)
        yield found
