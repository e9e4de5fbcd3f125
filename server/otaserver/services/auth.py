"""Logins, their sessions, and the JSON Web Tokens that carry them, ThingsBoard style.

An access token names the user and their authority (`scopes`); a refresh token only names the
user and gets a fresh pair. Both name their login session (`sid`): logging out, changing the
password or deleting the user (or their tenant) ends the session, and every token of it is
refused at once, not when it expires.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

import jwt

from ..domain.enums import Authority
from ..domain.errors import TokenExpired, Unauthorized
from ..domain.model import User, UserSession
from .access import Principal
from .login_guard import LoginGuard
from .passwords import Passwords
from .ports import Clock, Repositories, Storage

ISSUER = "otakit"
REFRESH_SCOPE = "REFRESH_TOKEN"
SECRET_KEY = "jwt_secret"
BAD_LOGIN = "Invalid username or password"
ENDED = "Session has ended; log in again"


@dataclass(frozen=True)
class TokenPair:
    token: str
    refresh_token: str


async def signing_secret(storage: Storage, configured: str) -> str:
    """The configured secret, else the one kept in the database (made by the first process)."""
    if configured:
        return configured
    async with storage.transaction() as repos:
        return await repos.set_value_if_absent(SECRET_KEY, secrets.token_urlsafe(48))


class Authenticator:
    def __init__(
        self,
        storage: Storage,
        clock: Clock,
        secret: str,
        token_seconds: int,
        refresh_seconds: int,
        passwords: Passwords,
        guard: LoginGuard,
    ) -> None:
        self._storage = storage
        self._clock = clock
        self._secret = secret
        self._token_seconds = token_seconds
        self._refresh_seconds = refresh_seconds
        self.passwords = passwords
        self._guard = guard

    async def login(self, email: str, password: str, address: str) -> TokenPair:
        email = email.strip().lower()
        async with self._storage.reading() as repos:
            found = await repos.users.find(email=email)
        user = found[0] if found else None
        await self._guard.admit(email, address, user.id if user else None)
        if user is None or not await self.passwords.matches(user.password_hash, password):
            if user is None:
                # The same work as a wrong password, so that timing tells nothing.
                await self.passwords.matches(None, password)
            await self._guard.failed(email, address)
            raise Unauthorized(BAD_LOGIN)
        await self._guard.succeeded(email, address, user.id)
        return await self.start_session(user)

    async def start_session(self, user: User, ending: UUID | None = None) -> TokenPair:
        """A new login session of the user and its tokens; `ending`'s user's sessions end."""
        now = self._clock.now_ms()
        session = UserSession(uuid4(), now, user.id, now + self._refresh_seconds * 1000)
        async with self._storage.transaction() as repos:
            if ending is not None:
                await repos.sessions.delete_for_user(ending)
            await repos.sessions.delete_expired(now)
            await repos.sessions.add(session)
        return self._issue(user, session.id)

    async def refresh(self, refresh_token: str) -> TokenPair:
        claims = self._decode(refresh_token)
        if claims.get("scopes") != [REFRESH_SCOPE]:
            raise Unauthorized("Invalid refresh token")
        session_id = _session_id(claims)
        now = self._clock.now_ms()
        async with self._storage.transaction() as repos:
            user = await _live_user(repos, session_id, now)
            await repos.sessions.extend(session_id, now + self._refresh_seconds * 1000)
        return self._issue(user, session_id)

    async def logout(self, principal: Principal) -> None:
        async with self._storage.transaction() as repos:
            await repos.sessions.delete(principal.session_id)

    def _issue(self, user: User, session_id: UUID) -> TokenPair:
        now = self._clock.now_ms() // 1000
        common = {
            "sub": user.email,
            "userId": str(user.id),
            "sid": str(session_id),
            "iss": ISSUER,
            "iat": now,
        }
        access = {
            **common,
            "scopes": [user.authority.value],
            "firstName": user.first_name,
            "lastName": user.last_name,
            "enabled": True,
            "isPublic": False,
            "tenantId": str(user.tenant_id) if user.tenant_id else None,
            "customerId": str(user.customer_id) if user.customer_id else None,
            "exp": now + self._token_seconds,
        }
        refresh = {
            **common,
            "scopes": [REFRESH_SCOPE],
            "isPublic": False,
            "jti": str(uuid4()),
            "exp": now + self._refresh_seconds,
        }
        return TokenPair(
            token=jwt.encode(access, self._secret, algorithm="HS256"),
            refresh_token=jwt.encode(refresh, self._secret, algorithm="HS256"),
        )

    async def authenticate(self, token: str) -> Principal:
        """The user of an access token whose session is still live."""
        claims = self._decode(token)
        scopes = claims.get("scopes") or []
        if len(scopes) != 1 or scopes[0] == REFRESH_SCOPE:
            raise Unauthorized("Invalid JWT token")
        session_id = _session_id(claims)
        async with self._storage.reading() as repos:
            user = await _live_user(repos, session_id, self._clock.now_ms())
        if str(user.id) != claims.get("userId"):
            raise Unauthorized("Invalid JWT token")
        return Principal(
            user_id=user.id,
            email=user.email,
            authority=Authority(user.authority),
            tenant_id=user.tenant_id,
            customer_id=user.customer_id,
            session_id=session_id,
        )

    def csrf_token(self, session_id: UUID) -> str:
        """The browser console's anti-forgery value for one login: a page of another site can
        neither read it nor compute it, and it stops working with the login."""
        digest = hmac.new(self._secret.encode(), b"csrf:" + session_id.bytes, hashlib.sha256)
        return digest.hexdigest()

    def csrf_matches(self, session_id: UUID, offered: str) -> bool:
        return hmac.compare_digest(self.csrf_token(session_id), offered)

    def _decode(self, token: str) -> dict[str, Any]:
        try:
            return jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                issuer=ISSUER,
                options={"require": ["exp", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenExpired("Token has expired") from None
        except jwt.PyJWTError:
            raise Unauthorized("Invalid JWT token") from None


def _session_id(claims: dict[str, Any]) -> UUID:
    try:
        return UUID(str(claims["sid"]))
    except (KeyError, ValueError):
        raise Unauthorized(ENDED) from None


async def _live_user(repos: Repositories, session_id: UUID, now_ms: int) -> User:
    user = await repos.sessions.user_of(session_id, now_ms)
    if user is None:
        raise Unauthorized(ENDED)
    return user
