"""Logins and the JSON Web Tokens that carry them, ThingsBoard style.

An access token names the user and their authority (`scopes`); a refresh token only names the
user and gets a fresh pair. Passwords are hashed with Argon2id (argon2-cffi).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

import anyio.to_thread
import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..domain.enums import Authority
from ..domain.errors import BadRequest, TokenExpired, Unauthorized
from ..domain.model import User
from .access import Principal
from .ports import Clock, Storage

ISSUER = "otakit"
REFRESH_SCOPE = "REFRESH_TOKEN"
SECRET_KEY = "jwt_secret"
BAD_LOGIN = "Invalid username or password"
MIN_PASSWORD_LENGTH = 6
_hasher = PasswordHasher()


@dataclass(frozen=True)
class TokenPair:
    token: str
    refresh_token: str


async def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise BadRequest(f"Password must be at least {MIN_PASSWORD_LENGTH} characters long!")
    return await anyio.to_thread.run_sync(_hasher.hash, password)


async def password_matches(password_hash: str | None, password: str) -> bool:
    if password_hash is None:
        return False
    try:
        return await anyio.to_thread.run_sync(_hasher.verify, password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


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
    ) -> None:
        self._storage = storage
        self._clock = clock
        self._secret = secret
        self._token_seconds = token_seconds
        self._refresh_seconds = refresh_seconds

    async def login(self, email: str, password: str) -> TokenPair:
        async with self._storage.transaction() as repos:
            found = await repos.users.find(email=email.strip().lower())
        user = found[0] if found else None
        if user is None or not await password_matches(user.password_hash, password):
            raise Unauthorized(BAD_LOGIN)
        return self.issue(user)

    async def refresh(self, refresh_token: str) -> TokenPair:
        claims = self._decode(refresh_token)
        if claims.get("scopes") != [REFRESH_SCOPE]:
            raise Unauthorized("Invalid refresh token")
        async with self._storage.transaction() as repos:
            user = await repos.users.get(UUID(claims["userId"]))
        if user is None:
            raise Unauthorized("User not found")
        return self.issue(user)

    def issue(self, user: User) -> TokenPair:
        now = self._clock.now_ms() // 1000
        common = {"sub": user.email, "userId": str(user.id), "iss": ISSUER, "iat": now}
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

    def authenticate(self, token: str) -> Principal:
        claims = self._decode(token)
        scopes = claims.get("scopes") or []
        if len(scopes) != 1 or scopes[0] == REFRESH_SCOPE:
            raise Unauthorized("Invalid JWT token")
        try:
            return Principal(
                user_id=UUID(claims["userId"]),
                email=claims["sub"],
                authority=Authority(scopes[0]),
                tenant_id=UUID(claims["tenantId"]) if claims.get("tenantId") else None,
                customer_id=UUID(claims["customerId"]) if claims.get("customerId") else None,
            )
        except (KeyError, ValueError):
            raise Unauthorized("Invalid JWT token") from None

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
