"""User accounts: tenant administrators, customer users, activation and passwords."""

from __future__ import annotations

import secrets
from uuid import UUID, uuid4

from ..domain.enums import ActionType, Authority, EntityType
from ..domain.errors import BadRequest, Forbidden, NotFound, Unauthorized
from ..domain.model import Page, PageRequest, User
from .access import Principal
from .audit import AuditLog
from .auth import Authenticator, TokenPair
from .forms import UserForm
from .ports import Clock, DuplicateKey, Repositories, Storage


class Users:
    def __init__(
        self, storage: Storage, clock: Clock, audit: AuditLog, authenticator: Authenticator
    ) -> None:
        self._storage = storage
        self._clock = clock
        self._audit = audit
        self._authenticator = authenticator

    async def save(self, principal: Principal, form: UserForm) -> User:
        email = form.email.strip().lower() if form.email else ""
        if "@" not in email:
            raise BadRequest(f"Invalid email address format '{form.email}'!")
        action = ActionType.ADDED if form.id is None else ActionType.UPDATED
        async with self._audit.action(principal, action, EntityType.USER) as (repos, record):
            await _check_may_manage(principal, repos, form)
            existing = None if form.id is None else await self._visible(principal, repos, form.id)
            user = User(
                id=existing.id if existing else uuid4(),
                created_time=existing.created_time if existing else self._clock.now_ms(),
                tenant_id=form.tenant_id,
                customer_id=form.customer_id,
                email=email,
                authority=form.authority,
                first_name=form.first_name,
                last_name=form.last_name,
                additional_info=form.additional_info,
                password_hash=existing.password_hash if existing else None,
                activation_token=existing.activation_token
                if existing
                else secrets.token_urlsafe(24),
            )
            if existing and (existing.authority, existing.tenant_id, existing.customer_id) != (
                user.authority,
                user.tenant_id,
                user.customer_id,
            ):
                raise BadRequest("A user's authority, tenant and customer cannot change!")
            try:
                await (repos.users.update(user) if existing else repos.users.add(user))
            except DuplicateKey:
                raise BadRequest(
                    "User with email '" + email + "' already present in database!"
                ) from None
            record.entity_id, record.entity_name = user.id, user.email
        return user

    async def _visible(self, principal: Principal, repos: Repositories, user_id: UUID) -> User:
        user = await repos.users.get(user_id)
        if user is None or not _may_see(principal, user):
            raise NotFound()
        return user

    async def get(self, principal: Principal, user_id: UUID) -> User:
        async with self._storage.reading() as repos:
            return await self._visible(principal, repos, user_id)

    async def page(
        self,
        principal: Principal,
        request: PageRequest,
        tenant_id: UUID | None = None,
        customer_id: UUID | None = None,
    ) -> Page:
        """Users of a tenant (its administrators) or of a customer."""
        async with self._storage.reading() as repos:
            if customer_id is not None:
                if principal.authority is Authority.SYS_ADMIN:
                    raise Forbidden()
                customer = await repos.customers.get(customer_id)
                if customer is None or customer.tenant_id != principal.tenant_id:
                    raise NotFound()
                if principal.authority is Authority.CUSTOMER_USER:
                    raise Forbidden()
                return await repos.users.page(request, customer_id=customer_id)
            if principal.authority is not Authority.SYS_ADMIN:
                raise Forbidden()
            return await repos.users.page(
                request, tenant_id=tenant_id, authority=Authority.TENANT_ADMIN
            )

    async def delete(self, principal: Principal, user_id: UUID) -> None:
        async with self._audit.action(principal, ActionType.DELETED, EntityType.USER) as (
            repos,
            record,
        ):
            user = await self._visible(principal, repos, user_id)
            if user.id == principal.user_id:
                raise BadRequest("A user cannot delete their own account!")
            record.entity_id, record.entity_name = user.id, user.email
            await repos.users.delete(user_id)

    async def activation_link(self, principal: Principal, user_id: UUID, base_url: str) -> str:
        async with self._storage.reading() as repos:
            user = await self._visible(principal, repos, user_id)
        if user.activation_token is None:
            raise BadRequest("User is already activated!")
        return f"{base_url}/api/noauth/activate?activateToken={user.activation_token}"

    async def activate(self, activate_token: str, password: str) -> TokenPair:
        password_hash = await self._authenticator.passwords.hash(password)
        async with self._storage.transaction() as repos:
            found = await repos.users.find(activation_token=activate_token)
            if not found:
                raise NotFound("Unable to find user credentials by activation token!")
            user = found[0]
            user.password_hash, user.activation_token = password_hash, None
            await repos.users.update(user)
        return await self._authenticator.start_session(user)

    async def change_password(self, principal: Principal, current: str, new: str) -> TokenPair:
        """A new password ends every session of the user; the answer carries a new one."""
        passwords = self._authenticator.passwords
        async with self._storage.reading() as repos:
            user = await repos.users.get(principal.user_id)
        if user is None or not await passwords.matches(user.password_hash, current):
            raise Unauthorized("Current password doesn't match!")
        user.password_hash = await passwords.hash(new)
        async with self._storage.transaction() as repos:
            await repos.users.update(user)
        return await self._authenticator.start_session(user, ending=user.id)

    async def current(self, principal: Principal) -> User:
        async with self._storage.reading() as repos:
            user = await repos.users.get(principal.user_id)
        if user is None:
            raise Unauthorized("User not found")
        return user


def _may_see(principal: Principal, user: User) -> bool:
    if principal.user_id == user.id:
        return True
    if principal.authority is Authority.SYS_ADMIN:
        return user.authority is Authority.TENANT_ADMIN
    if principal.authority is Authority.TENANT_ADMIN:
        return user.tenant_id == principal.tenant_id
    return False


async def _check_may_manage(principal: Principal, repos: Repositories, form: UserForm) -> None:
    """System admins manage tenant administrators; tenant admins their tenant's users."""
    if principal.authority is Authority.SYS_ADMIN:
        if form.authority is not Authority.TENANT_ADMIN or form.tenant_id is None:
            raise BadRequest("A system administrator creates tenant administrators of a tenant")
        if await repos.tenants.get(form.tenant_id) is None:
            raise BadRequest("User is referencing to non-existent tenant!")
        form.customer_id = None
        return
    if principal.authority is not Authority.TENANT_ADMIN:
        raise Forbidden()
    if form.authority is Authority.SYS_ADMIN:
        raise Forbidden()
    form.tenant_id = principal.tenant_id
    if form.authority is Authority.TENANT_ADMIN:
        form.customer_id = None
        return
    customer = None if form.customer_id is None else await repos.customers.get(form.customer_id)
    if customer is None or customer.tenant_id != principal.tenant_id:
        raise BadRequest("User is referencing to non-existent customer!")
