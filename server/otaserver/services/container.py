"""Every service of the server, built on the same storage, blob store and clock."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..domain.inputs import InputLimits
from .audit import AuditLog
from .auth import Authenticator
from .changes import ChangeFeed
from .dashboard import Dashboard
from .dashboard_live import LiveDashboard
from .device_api import DeviceApi
from .device_infos import DeviceInfos
from .devices import Devices
from .logins import Logins
from .lookups import LookupCache
from .monitoring import Monitoring
from .orchestration import Orchestrator
from .packages import Packages
from .ports import BlobStore, Clock, Notifier, Storage
from .profiles import Profiles
from .telemetry import Telemetry
from .tenants import Customers, Tenants
from .users import Users


@dataclass(frozen=True)
class Services:
    auth: Authenticator
    logins: Logins
    audit: AuditLog
    tenants: Tenants
    customers: Customers
    users: Users
    profiles: Profiles
    devices: Devices
    device_infos: DeviceInfos
    packages: Packages
    telemetry: Telemetry
    device_api: DeviceApi
    orchestrator: Orchestrator
    dashboard: Dashboard
    live_dashboard: LiveDashboard
    limits: InputLimits
    monitoring: Monitoring

    @classmethod
    def build(
        cls,
        storage: Storage,
        blobs: BlobStore,
        clock: Clock,
        authenticator: Authenticator,
        notifier: Notifier,
        max_package_size: int,
        limits: InputLimits,
        changes: ChangeFeed | None = None,
        push_interval_ms: int = 250,
    ) -> Services:
        # Device lookups are cached a moment; any audited change (assignment, token...) clears them.
        lookups: LookupCache[Any] = LookupCache()
        audit = AuditLog(storage, clock, on_change=lookups.invalidate)
        orchestrator = Orchestrator(clock, notifier)
        dashboard = Dashboard(storage, clock)
        return cls(
            auth=authenticator,
            logins=Logins(storage, authenticator, audit),
            audit=audit,
            tenants=Tenants(storage, blobs, clock, audit),
            customers=Customers(storage, clock, audit),
            users=Users(storage, clock, audit, authenticator),
            profiles=Profiles(storage, clock, audit, orchestrator),
            devices=Devices(storage, clock, audit, orchestrator),
            device_infos=DeviceInfos(storage, clock),
            packages=Packages(storage, blobs, clock, audit, max_package_size, limits),
            telemetry=Telemetry(storage, clock, notifier, limits),
            device_api=DeviceApi(storage, blobs, clock, lookups, limits),
            orchestrator=orchestrator,
            dashboard=dashboard,
            live_dashboard=LiveDashboard(
                dashboard, changes or ChangeFeed(), clock, push_interval_ms
            ),
            limits=limits,
            monitoring=Monitoring(storage),
        )
