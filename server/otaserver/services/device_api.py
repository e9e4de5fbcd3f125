"""What devices do through any transport: authenticate by token, report, read, download."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from ..domain.enums import OtaPackageType
from ..domain.errors import Unauthorized
from ..domain.inputs import InputLimits, parse_json, storable
from ..domain.model import Device, DeviceProfile, OtaPackage
from ..domain.rules import MAX_TOKEN_LENGTH, effective_package_id
from ..domain.telemetry import AttributeScope, parse_attributes, parse_telemetry
from .lookups import LookupCache
from .orchestration import Report
from .ports import BlobStore, Clock, Repositories, Storage
from .report_writer import ReportWriter
from .sign_ins import BatchedLookups

BAD_TOKEN = "Invalid device access token"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeviceIdentity:
    device_id: UUID
    tenant_id: UUID
    name: str


@dataclass(frozen=True)
class PackageData:
    """A package with data, and where its bytes lie."""

    package: OtaPackage
    path: Path

    @property
    def size(self) -> int:
        return self.package.data_size or 0


class DeviceApi:
    def __init__(
        self,
        storage: Storage,
        blobs: BlobStore,
        clock: Clock,
        lookups: LookupCache[tuple[DeviceIdentity, OtaPackage | None]] | None = None,
        limits: InputLimits | None = None,
    ) -> None:
        self.limits = limits or InputLimits()
        self._storage = storage
        self._blobs = blobs
        self._clock = clock
        self._lookups = lookups or LookupCache()
        self._last_stamp: dict[UUID, int] = {}
        self._reports = ReportWriter(storage)
        self._sign_ins: BatchedLookups[DeviceIdentity] = BatchedLookups(self._identify_many)

    async def authenticate(self, token: str) -> DeviceIdentity:
        async with self._storage.reading() as repos:
            return await self._identify(repos, token)

    async def sign_in(self, token: str) -> DeviceIdentity:
        """`authenticate` for a connecting device: looked up together with the tokens of the
        devices connecting at the same moment (services/sign_ins.py)."""
        if len(token) > MAX_TOKEN_LENGTH or not storable(token):
            raise Unauthorized(BAD_TOKEN)
        identity = await self._sign_ins.get(token)
        if identity is None:
            raise Unauthorized(BAD_TOKEN)
        return identity

    async def _identify_many(self, tokens: Sequence[str]) -> dict[str, DeviceIdentity]:
        async with self._storage.reading() as repos:
            found = await repos.devices.by_tokens(tokens)
        return {
            token: DeviceIdentity(device.id, device.tenant_id, device.name)
            for token, (device, _) in found.items()
        }

    async def _identify(self, repos: Repositories, token: str) -> DeviceIdentity:
        device, _ = await _by_token(repos, token)
        return DeviceIdentity(device.id, device.tenant_id, device.name)

    async def download_target(
        self, token: str, package_type: OtaPackageType
    ) -> tuple[DeviceIdentity, OtaPackage | None]:
        """The device of a token and its effective package (cached for a moment)."""
        return await self._lookups.get(
            (token, package_type), lambda: self._download_target(token, package_type)
        )

    async def _download_target(
        self, token: str, package_type: OtaPackageType
    ) -> tuple[DeviceIdentity, OtaPackage | None]:
        async with self._storage.reading() as repos:
            device, profile = await _by_token(repos, token)
            identity = DeviceIdentity(device.id, device.tenant_id, device.name)
            package_id = effective_package_id(device, profile, package_type)
            package = None if package_id is None else await repos.packages.get(package_id)
            return identity, package

    def parse(self, raw: bytes) -> Any:
        """A device's JSON payload, checked against the input limits."""
        return parse_json(raw, self.limits)

    async def post_telemetry(self, device: DeviceIdentity, raw: bytes) -> None:
        points = parse_telemetry(
            self.parse(raw), self._stamp(device.device_id), self.limits.max_keys
        )
        report = Report(device.device_id, device.tenant_id, points)
        for change in await self._reports.write(report):
            change.log(device.name, log)

    def _stamp(self, device_id: UUID) -> int:
        """The server's time for telemetry that carries none, never twice the same per device.

        Telemetry is keyed by (device, key, ts): two reports in one millisecond (DOWNLOADED
        then VERIFIED, say) would otherwise overwrite each other.
        """
        stamp = max(self._clock.now_ms(), self._last_stamp.get(device_id, 0) + 1)
        self._last_stamp[device_id] = stamp
        return stamp

    async def post_attributes(self, device: DeviceIdentity, raw: bytes) -> None:
        values = parse_attributes(self.parse(raw), self.limits.max_keys)
        async with self._storage.transaction() as repos:
            await repos.device_data.save_attributes(
                device.device_id, AttributeScope.CLIENT_SCOPE, values, self._clock.now_ms()
            )

    async def attributes(
        self, device: DeviceIdentity, client_keys: list[str] | None, shared_keys: list[str] | None
    ) -> dict[str, dict[str, Any]]:
        """`{"client": {...}, "shared": {...}}`, a section left out when empty.

        With no keys asked for at all, every attribute of both scopes.
        """
        everything = client_keys is None and shared_keys is None
        answer: dict[str, dict[str, Any]] = {}
        async with self._storage.reading() as repos:
            for section, scope, keys in (
                ("client", AttributeScope.CLIENT_SCOPE, client_keys),
                ("shared", AttributeScope.SHARED_SCOPE, shared_keys),
            ):
                if keys is None and not everything:
                    continue
                found = await repos.device_data.attributes(device.device_id, scope, keys)
                if found:
                    answer[section] = {a.key: a.value for a in found}
        return answer

    async def package(
        self, device: DeviceIdentity, package_type: OtaPackageType
    ) -> OtaPackage | None:
        """The device's effective package of this type (spec §4.1), or None."""
        async with self._storage.reading() as repos:
            return await self._effective(repos, device, package_type)

    async def _effective(
        self, repos: Repositories, device: DeviceIdentity, package_type: OtaPackageType
    ) -> OtaPackage | None:
        row = await repos.devices.get(device.device_id)
        if row is None:
            raise Unauthorized(BAD_TOKEN)
        profile = await repos.profiles.get(row.device_profile_id)
        assert profile is not None
        package_id = effective_package_id(row, profile, package_type)
        return None if package_id is None else await repos.packages.get(package_id)

    def read(self, data: PackageData, start: int, end: int) -> AsyncIterator[bytes]:
        """The package's bytes [start, end), a piece at a time (BlobMissing if they are gone)."""
        assert data.package.data_sha256 is not None
        return self._blobs.read(data.package.data_sha256, start, end)

    def data_of(self, package: OtaPackage) -> PackageData | None:
        """Where the package's bytes are; None for a URL package or one without data."""
        if package.data_sha256 is None:
            return None
        return PackageData(package, self._blobs.path_of(package.data_sha256))


async def _by_token(repos: Repositories, token: str) -> tuple[Device, DeviceProfile]:
    """The device of an access token, whatever bytes a transport passed as one."""
    if len(token) > MAX_TOKEN_LENGTH or not storable(token):
        raise Unauthorized(BAD_TOKEN)  # no token can be such, and no database could look it up
    found = await repos.devices.by_token(token)
    if found is None:
        raise Unauthorized(BAD_TOKEN)
    return found
