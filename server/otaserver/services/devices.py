"""Devices, their access-token credentials, their customer and their own packages."""

from __future__ import annotations

import dataclasses
import secrets
from uuid import UUID, uuid4

from ..domain.enums import ActionType, Authority, EntityType
from ..domain.errors import BadRequest, Forbidden, NotFound
from ..domain.model import Device, DeviceCredentials, DeviceProfile, Page, PageRequest
from ..domain.rules import MAX_TOKEN_LENGTH
from .access import Principal, visible
from .assignment import Assigned, check_assignment
from .audit import AuditLog
from .forms import DeviceForm
from .orchestration import Orchestrator
from .ports import Clock, DuplicateKey, Repositories, Storage
from .tenants import default_profile_details

DUPLICATE_TOKEN = "Device credentials are already assigned to another device!"
# What a customer user may change on their own device: only its packages.
CUSTOMER_EDITABLE = ("firmware_id", "software_id")


def new_access_token() -> str:
    return secrets.token_urlsafe(15)


class Devices:
    def __init__(
        self, storage: Storage, clock: Clock, audit: AuditLog, orchestrator: Orchestrator
    ) -> None:
        self._storage = storage
        self._clock = clock
        self._audit = audit
        self._orchestrator = orchestrator

    async def save(
        self, principal: Principal, form: DeviceForm, access_token: str | None = None
    ) -> Device:
        tenant_id = principal.require_tenant()
        if not form.name or not form.name.strip():
            raise BadRequest("Device name should be specified!")
        if principal.authority is Authority.CUSTOMER_USER and form.id is None:
            raise Forbidden()
        action = ActionType.ADDED if form.id is None else ActionType.UPDATED
        async with self._audit.action(principal, action, EntityType.DEVICE) as (repos, record):
            existing = (
                None if form.id is None else visible(principal, await repos.devices.get(form.id))
            )
            profile = await self._profile_of(repos, principal, form)
            device = Device(
                id=existing.id if existing else uuid4(),
                created_time=existing.created_time if existing else self._clock.now_ms(),
                tenant_id=tenant_id,
                customer_id=existing.customer_id if existing else None,
                name=form.name.strip(),
                device_profile_id=profile.id,
                type=profile.name,
                label=form.label,
                firmware_id=form.firmware_id,
                software_id=form.software_id,
                additional_info=form.additional_info,
                device_data=form.device_data,
            )
            record.entity_id, record.entity_name = device.id, device.name
            if principal.authority is Authority.CUSTOMER_USER:
                device = _customer_edit(existing, device)
            await check_assignment(
                repos,
                tenant_id,
                profile.id,
                Assigned(existing.firmware_id, existing.software_id) if existing else None,
                Assigned(device.firmware_id, device.software_id),
                existing is not None and existing.device_profile_id != profile.id,
                record,
            )
            try:
                if existing:
                    await repos.devices.update(device)
                else:
                    await repos.devices.add(device)
            except DuplicateKey:
                raise BadRequest("Device with such name already exists!") from None
            if existing is None:
                await self._add_credentials(repos, device.id, access_token or new_access_token())
            before = None
            if existing is not None:
                old_profile = await repos.profiles.get(existing.device_profile_id)
                assert old_profile is not None
                before = (existing, old_profile)
            pushes = await self._orchestrator.device_saved(repos, before, (device, profile))
        await self._orchestrator.deliver(pushes)
        return device

    async def save_with_credentials(
        self, principal: Principal, form: DeviceForm, token: str
    ) -> Device:
        """A device and its access token in one call (ThingsBoard's device-with-credentials).

        Tenant administrators only: customer users may neither create devices nor change
        tokens. An update refuses a token taken by another device first, then saves the device
        and the token if it changed.
        """
        principal.require_tenant_admin()
        check_token(token)
        if form.id is None:
            return await self.save(principal, form, token)
        async with self._storage.reading() as repos:
            holders = await repos.credentials.find(credentials_id=token)
        if any(holder.device_id != form.id for holder in holders):
            raise BadRequest(DUPLICATE_TOKEN)
        device = await self.save(principal, form)
        if (await self.credentials(principal, device.id)).credentials_id != token:
            await self.update_credentials(principal, device.id, token)
        return device

    async def _profile_of(
        self, repos: Repositories, principal: Principal, form: DeviceForm
    ) -> DeviceProfile:
        """The form's profile; else the profile named by its type (created if new); else default."""
        tenant_id = principal.require_tenant()
        if form.device_profile_id is not None:
            profile = await repos.profiles.get(form.device_profile_id)
            if profile is None or profile.tenant_id != tenant_id:
                raise BadRequest("Device is referencing to non-existent device profile!")
            return profile
        if form.type:
            found = await repos.profiles.find(tenant_id=tenant_id, name=form.type)
            if found:
                return found[0]
            if principal.authority is not Authority.TENANT_ADMIN:
                raise BadRequest("Device is referencing to non-existent device profile!")
            profile = DeviceProfile(
                id=uuid4(),
                created_time=self._clock.now_ms(),
                tenant_id=tenant_id,
                name=form.type,
                details=default_profile_details(),
            )
            await repos.profiles.add(profile)
            return profile
        found = await repos.profiles.find(tenant_id=tenant_id, is_default=True)
        if not found:
            raise BadRequest("Device profile should be specified!")
        return found[0]

    async def _add_credentials(self, repos: Repositories, device_id: UUID, token: str) -> None:
        check_token(token)
        credentials = DeviceCredentials(
            id=uuid4(),
            created_time=self._clock.now_ms(),
            device_id=device_id,
            credentials_id=token,
        )
        try:
            await repos.credentials.add(credentials)
        except DuplicateKey:
            raise BadRequest(DUPLICATE_TOKEN) from None

    async def get(self, principal: Principal, device_id: UUID) -> Device:
        principal.require_tenant()
        async with self._storage.reading() as repos:
            return visible(principal, await repos.devices.get(device_id))

    async def by_name(self, principal: Principal, name: str) -> Device:
        tenant_id = principal.require_tenant()
        async with self._storage.reading() as repos:
            found = await repos.devices.find(tenant_id=tenant_id, name=name)
        return visible(principal, found[0] if found else None)

    async def page(
        self,
        principal: Principal,
        request: PageRequest,
        device_type: str | None = None,
        customer_id: UUID | None = None,
    ) -> Page:
        tenant_id = principal.require_tenant()
        where: dict[str, object] = {"tenant_id": tenant_id}
        if device_type:
            where["type"] = device_type
        if principal.authority is Authority.CUSTOMER_USER:
            if customer_id is not None and customer_id != principal.customer_id:
                raise NotFound()
            customer_id = principal.customer_id
        async with self._storage.reading() as repos:
            if customer_id is not None:
                visible(principal, await repos.customers.get(customer_id))
                where["customer_id"] = customer_id
            return await repos.devices.page(request, **where)

    async def delete(self, principal: Principal, device_id: UUID) -> None:
        principal.require_tenant_admin()
        async with self._audit.action(principal, ActionType.DELETED, EntityType.DEVICE) as (
            repos,
            record,
        ):
            device = visible(principal, await repos.devices.get(device_id))
            record.entity_id, record.entity_name = device.id, device.name
            await repos.devices.delete(device_id)

    async def credentials(self, principal: Principal, device_id: UUID) -> DeviceCredentials:
        principal.require_tenant()
        async with self._storage.reading() as repos:
            visible(principal, await repos.devices.get(device_id))
            found = await repos.credentials.find(device_id=device_id)
        if not found:
            raise NotFound()
        return found[0]

    async def update_credentials(
        self, principal: Principal, device_id: UUID, token: str
    ) -> DeviceCredentials:
        principal.require_tenant_admin()
        check_token(token)
        async with self._audit.action(
            principal, ActionType.CREDENTIALS_UPDATED, EntityType.DEVICE
        ) as (repos, record):
            device = visible(principal, await repos.devices.get(device_id))
            record.entity_id, record.entity_name = device.id, device.name
            found = await repos.credentials.find(device_id=device_id)
            if not found:
                raise NotFound()
            credentials = found[0]
            credentials.credentials_id = token
            try:
                await repos.credentials.update(credentials)
            except DuplicateKey:
                raise BadRequest(DUPLICATE_TOKEN) from None
        return credentials

    async def set_customer(
        self, principal: Principal, device_id: UUID, customer_id: UUID | None
    ) -> Device:
        """Assigns the device to a customer, or takes it back when `customer_id` is None."""
        principal.require_tenant_admin()
        action = (
            ActionType.ASSIGNED_TO_CUSTOMER if customer_id else ActionType.UNASSIGNED_FROM_CUSTOMER
        )
        async with self._audit.action(principal, action, EntityType.DEVICE) as (repos, record):
            device = visible(principal, await repos.devices.get(device_id))
            record.entity_id, record.entity_name = device.id, device.name
            if customer_id is not None:
                visible(principal, await repos.customers.get(customer_id))
                record.data["customerId"] = str(customer_id)
            elif device.customer_id is None:
                raise BadRequest("Device isn't assigned to any customer!")
            device.customer_id = customer_id
            await repos.devices.update(device)
        return device


def _customer_edit(existing: Device | None, device: Device) -> Device:
    """A customer user's save keeps everything of the device but its packages.

    Renaming or moving it is refused; the free-form JSON (which clients may not round-trip
    exactly) is kept as stored.
    """
    if existing is None:
        raise Forbidden()
    for name in ("name", "device_profile_id", "label"):
        if getattr(existing, name) != getattr(device, name):
            raise Forbidden("Customer users may only change the firmware and software of a device!")
    return dataclasses.replace(
        existing, firmware_id=device.firmware_id, software_id=device.software_id
    )


def check_token(token: str) -> None:
    if not 0 < len(token) <= MAX_TOKEN_LENGTH or "/" in token or any(c.isspace() for c in token):
        raise BadRequest(
            f"Access token must be 1 to {MAX_TOKEN_LENGTH} characters, without '/' or spaces"
        )
