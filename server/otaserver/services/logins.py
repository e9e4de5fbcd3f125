"""Logins, audited as ThingsBoard audits them: a LOGIN entry on the user, SUCCESS or FAILURE
with the reason, and the client's address. Both the REST login and the console's go through here.
"""

from __future__ import annotations

from uuid import UUID

from ..domain.enums import ActionStatus, ActionType, Authority, EntityType
from ..domain.errors import TooManyRequests, Unauthorized
from .access import Principal
from .audit import AuditLog, AuditRecord
from .auth import Authenticator, TokenPair
from .ports import Storage

# A failed login has no session of its own.
NO_SESSION = UUID(int=0)


class Logins:
    def __init__(self, storage: Storage, auth: Authenticator, audit: AuditLog) -> None:
        self._storage = storage
        self._auth = auth
        self._audit = audit

    async def login(self, email: str, password: str, address: str) -> TokenPair:
        try:
            pair = await self._auth.login(email, password, address)
        except (Unauthorized, TooManyRequests) as error:
            await self._failed(email, address, error.message)
            raise
        user = await self._auth.authenticate(pair.token)
        record = AuditRecord(EntityType.USER, user.user_id, user.email, {"clientAddress": address})
        await self._audit.add(user, ActionType.LOGIN, record, ActionStatus.SUCCESS)
        return pair

    async def _failed(self, email: str, address: str, reason: str) -> None:
        """Written in the log of the account tried; a name no account has goes nowhere (it may
        be a password typed into the wrong field)."""
        async with self._storage.reading() as repos:
            found = await repos.users.find(email=email.strip().lower())
        if not found:
            return
        user = found[0]
        principal = Principal(
            user.id,
            user.email,
            Authority(user.authority),
            user.tenant_id,
            user.customer_id,
            NO_SESSION,
        )
        record = AuditRecord(EntityType.USER, user.id, user.email, {"clientAddress": address})
        await self._audit.add(principal, ActionType.LOGIN, record, ActionStatus.FAILURE, reason)
