"""Tenants (the system administrator's) and customers (a tenant administrator's)."""

from __future__ import annotations

from uuid import UUID, uuid4

from ..domain.enums import ActionType, Authority, EntityType
from ..domain.errors import BadRequest, NotFound
from ..domain.model import Customer, DeviceProfile, Page, PageRequest, Tenant
from .access import Principal, visible
from .audit import AuditLog
from .blobs import release_blobs
from .forms import CustomerForm, TenantForm
from .ports import BlobStore, Clock, Repositories, Storage

DEFAULT_PROFILE_NAME = "default"


def default_profile_details() -> dict[str, object]:
    """ThingsBoard's default profile body: a DEFAULT profile over any transport."""
    return {
        "type": "DEFAULT",
        "transportType": "DEFAULT",
        "provisionType": "DISABLED",
        "profileData": {
            "configuration": {"type": "DEFAULT"},
            "transportConfiguration": {"type": "DEFAULT"},
            "provisionConfiguration": {"type": "DISABLED", "provisionDeviceSecret": None},
            "alarms": None,
        },
    }


class Tenants:
    def __init__(self, storage: Storage, blobs: BlobStore, clock: Clock, audit: AuditLog) -> None:
        self._storage = storage
        self._blobs = blobs
        self._clock = clock
        self._audit = audit

    async def save(self, principal: Principal, form: TenantForm) -> Tenant:
        principal.require(Authority.SYS_ADMIN)
        _require_title(form.title, "Tenant")
        action = ActionType.ADDED if form.id is None else ActionType.UPDATED
        async with self._audit.action(principal, action, EntityType.TENANT) as (repos, record):
            existing = None
            if form.id is not None and (existing := await repos.tenants.get(form.id)) is None:
                raise NotFound()
            tenant = Tenant(
                id=existing.id if existing else uuid4(),
                created_time=existing.created_time if existing else self._clock.now_ms(),
                title=form.title,
                region=form.region,
                additional_info=form.additional_info,
                contact=form.contact,
            )
            if existing:
                await repos.tenants.update(tenant)
            else:
                await repos.tenants.add(tenant)
                await repos.profiles.add(self._default_profile(tenant.id))
            record.entity_id, record.entity_name = tenant.id, tenant.title
        return tenant

    def _default_profile(self, tenant_id: UUID) -> DeviceProfile:
        return DeviceProfile(
            id=uuid4(),
            created_time=self._clock.now_ms(),
            tenant_id=tenant_id,
            name=DEFAULT_PROFILE_NAME,
            description="Default device profile",
            is_default=True,
            details=default_profile_details(),
        )

    async def get(self, principal: Principal, tenant_id: UUID) -> Tenant:
        if principal.authority is not Authority.SYS_ADMIN and principal.tenant_id != tenant_id:
            raise NotFound()
        async with self._storage.reading() as repos:
            tenant = await repos.tenants.get(tenant_id)
        if tenant is None:
            raise NotFound()
        return tenant

    async def page(self, principal: Principal, request: PageRequest) -> Page:
        principal.require(Authority.SYS_ADMIN)
        async with self._storage.reading() as repos:
            return await repos.tenants.page(request)

    async def delete(self, principal: Principal, tenant_id: UUID) -> None:
        principal.require(Authority.SYS_ADMIN)
        async with self._audit.action(principal, ActionType.DELETED, EntityType.TENANT) as (
            repos,
            record,
        ):
            tenant = await repos.tenants.get(tenant_id)
            if tenant is None:
                raise NotFound()
            record.entity_id, record.entity_name = tenant.id, tenant.title
            blobs = {p.data_sha256 for p in await repos.packages.find(tenant_id=tenant_id)}
            await _delete_tenant_rows(repos, tenant_id)
        await release_blobs(self._storage, self._blobs, blobs)


async def _delete_tenant_rows(repos: Repositories, tenant_id: UUID) -> None:
    # Devices and profiles point at packages and packages at profiles: break the cycle first.
    for device in await repos.devices.find(tenant_id=tenant_id):
        await repos.devices.delete(device.id)
    for profile in await repos.profiles.find(tenant_id=tenant_id):
        if profile.firmware_id or profile.software_id:
            profile.firmware_id = profile.software_id = None
            await repos.profiles.update(profile)
    for package in await repos.packages.find(tenant_id=tenant_id):
        await repos.packages.delete(package.id)
    await repos.tenants.delete(tenant_id)


class Customers:
    def __init__(self, storage: Storage, clock: Clock, audit: AuditLog) -> None:
        self._storage = storage
        self._clock = clock
        self._audit = audit

    async def save(self, principal: Principal, form: CustomerForm) -> Customer:
        tenant_id = principal.require_tenant_admin()
        _require_title(form.title, "Customer")
        action = ActionType.ADDED if form.id is None else ActionType.UPDATED
        async with self._audit.action(principal, action, EntityType.CUSTOMER) as (repos, record):
            existing = (
                None if form.id is None else visible(principal, await repos.customers.get(form.id))
            )
            customer = Customer(
                id=existing.id if existing else uuid4(),
                created_time=existing.created_time if existing else self._clock.now_ms(),
                tenant_id=tenant_id,
                title=form.title,
                additional_info=form.additional_info,
                contact=form.contact,
            )
            await (repos.customers.update(customer) if existing else repos.customers.add(customer))
            record.entity_id, record.entity_name = customer.id, customer.title
        return customer

    async def get(self, principal: Principal, customer_id: UUID) -> Customer:
        principal.require_tenant()
        if principal.authority is Authority.CUSTOMER_USER and principal.customer_id != customer_id:
            raise NotFound()
        async with self._storage.reading() as repos:
            return visible(principal, await repos.customers.get(customer_id))

    async def page(self, principal: Principal, request: PageRequest) -> Page:
        tenant_id = principal.require_tenant_admin()
        async with self._storage.reading() as repos:
            return await repos.customers.page(request, tenant_id=tenant_id)

    async def delete(self, principal: Principal, customer_id: UUID) -> None:
        principal.require_tenant_admin()
        async with self._audit.action(principal, ActionType.DELETED, EntityType.CUSTOMER) as (
            repos,
            record,
        ):
            customer = visible(principal, await repos.customers.get(customer_id))
            record.entity_id, record.entity_name = customer.id, customer.title
            for device in await repos.devices.find(customer_id=customer_id):
                device.customer_id = None
                await repos.devices.update(device)
            await repos.customers.delete(customer_id)


def _require_title(title: str, kind: str) -> None:
    if not title or not title.strip():
        raise BadRequest(f"{kind} title should be specified!")
