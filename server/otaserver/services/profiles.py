"""Device profiles, and the packages assigned to every device of a profile."""

from __future__ import annotations

from uuid import UUID, uuid4

from ..domain.enums import ActionType, Authority, EntityType
from ..domain.errors import BadRequest, Conflict, NotFound
from ..domain.model import DeviceProfile, Page, PageRequest
from .access import Principal, visible
from .assignment import Assigned, check_assignment
from .audit import AuditLog
from .forms import ProfileForm
from .orchestration import Orchestrator
from .ports import Clock, DuplicateKey, Repositories, Storage


class Profiles:
    def __init__(
        self, storage: Storage, clock: Clock, audit: AuditLog, orchestrator: Orchestrator
    ) -> None:
        self._storage = storage
        self._clock = clock
        self._audit = audit
        self._orchestrator = orchestrator

    async def save(self, principal: Principal, form: ProfileForm) -> DeviceProfile:
        tenant_id = principal.require_tenant_admin()
        if not form.name or not form.name.strip():
            raise BadRequest("Device profile name should be specified!")
        action = ActionType.ADDED if form.id is None else ActionType.UPDATED
        async with self._audit.action(principal, action, EntityType.DEVICE_PROFILE) as (
            repos,
            record,
        ):
            existing = (
                None if form.id is None else visible(principal, await repos.profiles.get(form.id))
            )
            profile = DeviceProfile(
                id=existing.id if existing else uuid4(),
                created_time=existing.created_time if existing else self._clock.now_ms(),
                tenant_id=tenant_id,
                name=form.name.strip(),
                description=form.description,
                is_default=existing.is_default if existing else False,
                firmware_id=form.firmware_id,
                software_id=form.software_id,
                details=form.details,
            )
            record.entity_id, record.entity_name = profile.id, profile.name
            before = Assigned(existing.firmware_id, existing.software_id) if existing else None
            await check_assignment(
                repos,
                tenant_id,
                profile.id,
                before,
                Assigned(profile.firmware_id, profile.software_id),
                False,
                record,
            )
            try:
                await (repos.profiles.update(profile) if existing else repos.profiles.add(profile))
            except DuplicateKey:
                raise BadRequest("Device profile with such name already exists!") from None
            if form.is_default and not profile.is_default:
                await _make_default(repos, profile)
            pushes = (
                await self._orchestrator.profile_saved(repos, existing, profile) if existing else []
            )
        await self._orchestrator.deliver(pushes)
        return profile

    async def get(self, principal: Principal, profile_id: UUID) -> DeviceProfile:
        principal.require_tenant()
        async with self._storage.reading() as repos:
            return visible(principal, await repos.profiles.get(profile_id))

    async def get_default(self, principal: Principal) -> DeviceProfile:
        tenant_id = principal.require_tenant()
        async with self._storage.reading() as repos:
            found = await repos.profiles.find(tenant_id=tenant_id, is_default=True)
        if not found:
            raise NotFound()
        return found[0]

    async def set_default(self, principal: Principal, profile_id: UUID) -> DeviceProfile:
        principal.require_tenant_admin()
        async with self._audit.action(principal, ActionType.UPDATED, EntityType.DEVICE_PROFILE) as (
            repos,
            record,
        ):
            profile = visible(principal, await repos.profiles.get(profile_id))
            record.entity_id, record.entity_name = profile.id, profile.name
            await _make_default(repos, profile)
        return profile

    async def page(self, principal: Principal, request: PageRequest) -> Page:
        tenant_id = principal.require_tenant()
        async with self._storage.reading() as repos:
            return await repos.profiles.page(request, tenant_id=tenant_id)

    async def delete(self, principal: Principal, profile_id: UUID) -> None:
        principal.require(Authority.TENANT_ADMIN)
        async with self._audit.action(principal, ActionType.DELETED, EntityType.DEVICE_PROFILE) as (
            repos,
            record,
        ):
            profile = visible(principal, await repos.profiles.get(profile_id))
            record.entity_id, record.entity_name = profile.id, profile.name
            if profile.is_default:
                raise BadRequest("Deletion of Default Device Profile is prohibited!")
            if await repos.devices.count(device_profile_id=profile_id):
                raise BadRequest("The device profile referenced by the devices cannot be deleted!")
            if await repos.packages.count(device_profile_id=profile_id):
                raise BadRequest("The device profile referenced by OTA packages cannot be deleted!")
            await repos.profiles.delete(profile_id)


async def _make_default(repos: Repositories, profile: DeviceProfile) -> None:
    for other in await repos.profiles.find(tenant_id=profile.tenant_id, is_default=True):
        other.is_default = False
        await repos.profiles.update(other)
    profile.is_default = True
    try:
        await repos.profiles.update(profile)
    except DuplicateKey:
        # The database keeps one default per tenant; another request just made one.
        raise Conflict("Another default device profile was set at the same time") from None
