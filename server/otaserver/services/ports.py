"""The small interfaces the services need from the outside world; adapters implement them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar
from uuid import UUID

from ..domain.enums import ChecksumAlgorithm, OtaPackageType
from ..domain.logins import FailureCount
from ..domain.model import (
    AuditEntry,
    Customer,
    Device,
    DeviceCredentials,
    DeviceInfo,
    DeviceProfile,
    OtaPackage,
    Page,
    PageRequest,
    Tenant,
    User,
    UserSession,
)
from ..domain.orchestration import QueueState
from ..domain.telemetry import Attribute, AttributeScope, TelemetryPoint

T = TypeVar("T")


class EntityRepository(Protocol[T]):
    """Storage of one kind of entity. `where` filters on columns by equality.

    `get(..., lock=True)` also locks the entity until the transaction ends, so that a concurrent
    save of it waits (and is waited for).
    """

    async def get(self, entity_id: UUID, lock: bool = False) -> T | None: ...
    async def get_many(self, entity_ids: Sequence[UUID], lock: bool = False) -> dict[UUID, T]: ...
    async def add(self, entity: T) -> None: ...
    async def update(self, entity: T) -> None: ...
    async def delete(self, entity_id: UUID) -> None: ...
    async def find(self, **where: Any) -> list[T]: ...
    async def count(self, **where: Any) -> int: ...
    async def page(self, request: PageRequest, **where: Any) -> Page: ...


class PackageRepository(EntityRepository[OtaPackage], Protocol):
    async def page_assignable(
        self, request: PageRequest, tenant_id: UUID, profile_id: UUID, package_type: OtaPackageType
    ) -> Page: ...
    async def count_blob_users(self, data_sha256: str) -> int: ...


@dataclass(frozen=True)
class DeviceInfoFilter:
    """Which devices a DeviceInfo listing holds (ThingsBoard's DeviceInfoFilter)."""

    tenant_id: UUID
    customer_id: UUID | None = None
    # Only the devices no customer has (a tenant's own, as `includeCustomers=false`).
    tenant_owned_only: bool = False
    # A profile name; when given, device_profile_id is ignored (as in ThingsBoard).
    device_type: str | None = None
    device_profile_id: UUID | None = None
    active: bool | None = None


class DeviceRepository(EntityRepository[Device], Protocol):
    async def count_using_package(self, package_id: UUID) -> int: ...
    async def by_token(self, token: str) -> tuple[Device, DeviceProfile] | None: ...
    async def by_tokens(self, tokens: Sequence[str]) -> dict[str, tuple[Device, DeviceProfile]]: ...
    async def count_without_package(
        self, tenant_id: UUID, profile_id: UUID, package_type: OtaPackageType
    ) -> int: ...
    async def info(self, device_id: UUID, active_since: int) -> DeviceInfo | None: ...
    async def info_page(
        self, request: PageRequest, where: DeviceInfoFilter, active_since: int
    ) -> Page: ...


class ProfileRepository(EntityRepository[DeviceProfile], Protocol):
    async def count_using_package(self, package_id: UUID) -> int: ...


class DeviceDataRepository(Protocol):
    async def save_attributes(
        self, device_id: UUID, scope: AttributeScope, values: dict[str, Any], ts: int
    ) -> None: ...
    async def delete_attributes(
        self, device_id: UUID, scope: AttributeScope, keys: Iterable[str]
    ) -> list[str]: ...
    async def save_attributes_of(
        self, values: Mapping[UUID, Mapping[str, Any]], scope: AttributeScope, ts: int
    ) -> None: ...
    async def delete_attributes_of(
        self, device_ids: Sequence[UUID], scope: AttributeScope, keys: Iterable[str]
    ) -> dict[UUID, list[str]]: ...
    async def attributes(
        self, device_id: UUID, scope: AttributeScope, keys: Sequence[str] | None = None
    ) -> list[Attribute]: ...
    async def save_telemetry(self, device_id: UUID, points: Sequence[TelemetryPoint]) -> None: ...
    async def save_telemetry_of(
        self, reports: Sequence[tuple[UUID, Sequence[TelemetryPoint]]]
    ) -> None: ...
    async def telemetry(
        self,
        device_id: UUID,
        keys: Sequence[str],
        start_ts: int,
        end_ts: int,
        limit: int,
        descending: bool = True,
    ) -> dict[str, list[TelemetryPoint]]: ...
    async def latest_telemetry(
        self, device_id: UUID, keys: Sequence[str] | None = None
    ) -> dict[str, TelemetryPoint]: ...
    async def latest_telemetry_of(
        self, device_ids: Sequence[UUID], keys: Sequence[str] | None = None
    ) -> dict[UUID, dict[str, TelemetryPoint]]: ...
    async def telemetry_keys(self, device_id: UUID) -> list[str]: ...
    async def attribute_keys(
        self, device_id: UUID, scopes: Sequence[AttributeScope]
    ) -> list[str]: ...


@dataclass(frozen=True)
class QueueEntry:
    """A device waiting to be told of its package (spec §4.2)."""

    id: UUID
    tenant_id: UUID
    device_id: UUID
    package_id: UUID
    package_type: OtaPackageType
    assigned_ts: int
    created_time: int


@dataclass
class UpdateState:
    """Where a device stands with one package type: target, last status, retries."""

    device_id: UUID
    package_type: OtaPackageType
    tenant_id: UUID
    package_id: UUID | None
    status: str
    status_ts: int
    error: str | None
    retries: int


@dataclass(frozen=True)
class StateFilter:
    """Which devices a dashboard listing holds, with their update state of one package type."""

    tenant_id: UUID
    package_type: OtaPackageType
    package_id: UUID | None = None
    profile_id: UUID | None = None
    # A customer user's customer: only its devices.
    customer_id: UUID | None = None
    statuses: Sequence[str] | None = None
    text_search: str | None = None
    # Only devices with a target whose status is older than this time (ms).
    changed_before: int | None = None


@dataclass(frozen=True)
class BucketStates:
    """Devices' reported states over time: each device's last state at or before the start,
    and its last state within each bucket that has one."""

    before: dict[UUID, Any]
    buckets: list[tuple[int, UUID, Any]]  # (bucket index, device, state)


class OtaRepository(Protocol):
    async def enqueue(self, entries: Sequence[QueueEntry]) -> None: ...
    async def lock_pace(self) -> None: ...
    async def notified_since(self, since_ts: int) -> list[tuple[int, int]]: ...
    async def next_pending(self, limit: int) -> list[QueueEntry]: ...
    async def finish(
        self, entry_ids: Sequence[UUID], state: QueueState, processed_ts: int
    ) -> None: ...
    async def pending_count(self) -> int: ...
    async def state(self, device_id: UUID, package_type: OtaPackageType) -> UpdateState | None: ...
    async def states(
        self, device_ids: Sequence[UUID]
    ) -> dict[tuple[UUID, OtaPackageType], UpdateState]: ...
    async def save_state(self, state: UpdateState) -> None: ...
    async def save_states(self, states: Sequence[UpdateState]) -> None: ...
    async def stuck(self, status: str, before_ts: int) -> list[UpdateState]: ...
    async def status_counts(self) -> dict[tuple[OtaPackageType, str], int]: ...
    async def counts(
        self,
        tenant_id: UUID,
        package_type: OtaPackageType,
        package_id: UUID | None,
        profile_id: UUID | None,
        customer_id: UUID | None,
    ) -> dict[str, int]: ...
    async def page_states(self, request: PageRequest, where: StateFilter) -> Page: ...
    async def list_states(
        self, where: StateFilter, device_ids: Sequence[UUID] | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]: ...
    async def bucket_states(
        self, where: StateFilter, start_ts: int, end_ts: int, interval_ms: int
    ) -> BucketStates: ...
    async def update_times(
        self, where: StateFilter
    ) -> list[tuple[int, int | None, int | None]]: ...


class SessionRepository(Protocol):
    async def add(self, session: UserSession) -> None: ...
    async def user_of(self, session_id: UUID, now_ms: int) -> User | None: ...
    async def extend(self, session_id: UUID, expires_ts: int) -> None: ...
    async def delete(self, session_id: UUID) -> None: ...
    async def delete_for_user(self, user_id: UUID) -> None: ...
    async def delete_expired(self, now_ms: int) -> None: ...


class LoginRepository(Protocol):
    async def failures(self, key: str, lock: bool = False) -> FailureCount | None: ...
    async def save_failures(self, key: str, count: FailureCount) -> None: ...
    async def clear_failures(self, key: str) -> None: ...
    async def known(self, user_id: UUID, address: str, since_ms: int) -> bool: ...
    async def remember(self, user_id: UUID, address: str, now_ms: int) -> None: ...


class Repositories(Protocol):
    """Every repository, bound to one transaction."""

    @property
    def tenants(self) -> EntityRepository[Tenant]: ...
    @property
    def users(self) -> EntityRepository[User]: ...
    @property
    def customers(self) -> EntityRepository[Customer]: ...
    @property
    def profiles(self) -> ProfileRepository: ...
    @property
    def devices(self) -> DeviceRepository: ...
    @property
    def credentials(self) -> EntityRepository[DeviceCredentials]: ...
    @property
    def packages(self) -> PackageRepository: ...
    @property
    def device_data(self) -> DeviceDataRepository: ...
    @property
    def ota(self) -> OtaRepository: ...
    @property
    def audit(self) -> EntityRepository[AuditEntry]: ...
    @property
    def sessions(self) -> SessionRepository: ...
    @property
    def logins(self) -> LoginRepository: ...

    async def get_value(self, key: str) -> str | None: ...
    async def set_value_if_absent(self, key: str, value: str) -> str: ...


class Storage(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[Repositories]:
        """Repositories whose changes commit together when the block ends without error."""
        ...

    def reading(self) -> AbstractAsyncContextManager[Repositories]:
        """Repositories for reads only, all from one consistent snapshot; never blocks writers."""
        ...


class DuplicateKey(Exception):
    """Raised by storage when a unique constraint refuses a row."""


@dataclass(frozen=True)
class StagedBlob:
    """Data written to the blob store but not yet visible: commit or discard it."""

    path: Path
    size: int
    sha256: str
    checksums: Mapping[ChecksumAlgorithm, str]


class BlobTooLarge(Exception):
    """Raised while staging when the data passes the size limit."""


class BlobMissing(Exception):
    """Raised while reading when a blob is gone or shorter than its package says."""


class BlobStore(Protocol):
    async def stage(
        self,
        chunks: AsyncIterator[bytes],
        algorithms: set[ChecksumAlgorithm],
        max_size: int,
    ) -> StagedBlob: ...
    async def checksum(self, staged: StagedBlob, algorithm: ChecksumAlgorithm) -> str: ...
    async def commit(self, staged: StagedBlob) -> None: ...
    async def discard(self, staged: StagedBlob) -> None: ...
    def path_of(self, sha256: str) -> Path: ...
    def read(self, sha256: str, start: int, end: int) -> AsyncIterator[bytes]:
        """The bytes [start, end) of a blob, a bounded piece at a time."""
        ...

    async def delete(self, sha256: str) -> None: ...


class Notifier(Protocol):
    """Delivers a shared-attribute update to a device's live sessions, whatever transport."""

    async def publish(self, device_id: UUID, update: dict[str, Any]) -> None: ...
    async def publish_many(self, updates: Sequence[tuple[UUID, dict[str, Any]]]) -> None: ...


class Clock(Protocol):
    def now_ms(self) -> int: ...
