"""ThingsBoard's DeviceInfo listings: devices with their customer's and profile's names and
whether they were active lately, and the "devices affected" count of an assignment."""

from __future__ import annotations

from dataclasses import dataclass, replace
from uuid import UUID

from ..domain.enums import Authority, OtaPackageType
from ..domain.errors import NotFound
from ..domain.model import DeviceInfo, Page, PageRequest
from .access import Principal, visible
from .ports import Clock, DeviceInfoFilter, Storage

# A device is active if it sent telemetry or client attributes this recently: ThingsBoard's
# default inactivity timeout (state.defaultInactivityTimeoutInSec = 600).
ACTIVITY_WINDOW_MS = 600_000


@dataclass(frozen=True)
class InfoFilters:
    """The filters every DeviceInfo listing takes."""

    device_type: str | None = None
    device_profile_id: UUID | None = None
    active: bool | None = None


class DeviceInfos:
    def __init__(self, storage: Storage, clock: Clock) -> None:
        self._storage = storage
        self._clock = clock

    def _active_since(self) -> int:
        return self._clock.now_ms() - ACTIVITY_WINDOW_MS

    async def get(self, principal: Principal, device_id: UUID) -> DeviceInfo:
        principal.require(Authority.TENANT_ADMIN, Authority.CUSTOMER_USER)
        async with self._storage.reading() as repos:
            info = await repos.devices.info(device_id, self._active_since())
        visible(principal, info.device if info else None)
        assert info is not None
        return info

    async def tenant_page(
        self, principal: Principal, request: PageRequest, filters: InfoFilters
    ) -> Page:
        """Every device of the tenant (`/api/tenant/deviceInfos`): tenant administrators only."""
        tenant_id = principal.require_tenant_admin()
        return await self._page(request, self._where(tenant_id, filters))

    async def owned_page(
        self,
        principal: Principal,
        request: PageRequest,
        filters: InfoFilters,
        include_customers: bool,
    ) -> Page:
        """The devices of the user's owner (`/api/deviceInfos/all`): a customer user's customer's;
        a tenant administrator's own, and with `include_customers` also their customers'."""
        principal.require(Authority.TENANT_ADMIN, Authority.CUSTOMER_USER)
        where = self._where(principal.require_tenant(), filters)
        if principal.authority is Authority.CUSTOMER_USER:
            where = replace(where, customer_id=principal.customer_id)
        elif not include_customers:
            where = replace(where, tenant_owned_only=True)
        return await self._page(request, where)

    async def customer_page(
        self, principal: Principal, request: PageRequest, customer_id: UUID, filters: InfoFilters
    ) -> Page:
        principal.require(Authority.TENANT_ADMIN, Authority.CUSTOMER_USER)
        tenant_id = principal.require_tenant()
        if principal.authority is Authority.CUSTOMER_USER and customer_id != principal.customer_id:
            raise NotFound()
        async with self._storage.reading() as repos:
            visible(principal, await repos.customers.get(customer_id))
        where = replace(self._where(tenant_id, filters), customer_id=customer_id)
        return await self._page(request, where)

    async def count_without_package(
        self, principal: Principal, package_type: OtaPackageType, profile_id: UUID
    ) -> int:
        """Devices of the profile that a package assigned to it would reach: those without a
        package of their own of that type. Another tenant's profile counts none, as in
        ThingsBoard."""
        tenant_id = principal.require_tenant_admin()
        async with self._storage.reading() as repos:
            return await repos.devices.count_without_package(tenant_id, profile_id, package_type)

    def _where(self, tenant_id: UUID, filters: InfoFilters) -> DeviceInfoFilter:
        return DeviceInfoFilter(
            tenant_id=tenant_id,
            device_type=filters.device_type,
            device_profile_id=filters.device_profile_id,
            active=filters.active,
        )

    async def _page(self, request: PageRequest, where: DeviceInfoFilter) -> Page:
        async with self._storage.reading() as repos:
            return await repos.devices.info_page(request, where, self._active_since())
