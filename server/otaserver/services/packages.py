"""OTA packages: their info, their data (streamed into the blob store), listing and deletion."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID, uuid4

from ..domain import faults, rules
from ..domain.checksums import normalize_checksum, parse_algorithm
from ..domain.enums import (
    ActionStatus,
    ActionType,
    Authority,
    ChecksumAlgorithm,
    EntityType,
    OtaPackageType,
)
from ..domain.errors import BadRequest, OtaError, PayloadTooLarge
from ..domain.faults import Fault
from ..domain.inputs import InputLimits, check_file_name, check_name
from ..domain.model import OtaPackage, Page, PageRequest
from .access import Principal, visible
from .audit import AuditLog, AuditRecord
from .blobs import release_blobs
from .forms import PackageForm, Upload
from .ports import BlobStore, BlobTooLarge, Clock, DuplicateKey, Repositories, Storage


@dataclass(frozen=True)
class Download:
    """Where a package's data lies and how to present it."""

    path: Path
    size: int
    file_name: str
    content_type: str


class Packages:
    def __init__(
        self,
        storage: Storage,
        blobs: BlobStore,
        clock: Clock,
        audit: AuditLog,
        max_size: int,
        limits: InputLimits,
    ) -> None:
        self._limits = limits
        self._storage = storage
        self._blobs = blobs
        self._clock = clock
        self._audit = audit
        self.max_size = max_size

    async def save_info(self, principal: Principal, form: PackageForm) -> OtaPackage:
        tenant_id = principal.require_tenant_admin()
        action = ActionType.ADDED if form.id is None else ActionType.UPDATED
        async with self._audit.action(principal, action, EntityType.OTA_PACKAGE) as (
            repos,
            record,
        ):
            record.entity_name = form.title
            if form.id is None:
                package = await self._create(repos, tenant_id, form)
            else:
                package = await self._update(repos, principal, form)
            record.entity_id = package.id
            record.data = {
                "title": package.title,
                "version": package.version,
                "type": package.type.value,
            }
        return package

    async def _create(self, repos: Repositories, tenant_id: UUID, form: PackageForm) -> OtaPackage:
        url = (form.url or "").strip() or None
        if form.uses_url and not url:
            raise BadRequest("Ota package URL should be specified!")
        if url and not form.uses_url:
            raise BadRequest("Ota package URL is set but usesUrl is false!")
        package = OtaPackage(
            id=uuid4(),
            created_time=self._clock.now_ms(),
            tenant_id=tenant_id,
            device_profile_id=form.device_profile_id,
            type=form.type,
            title=form.title.strip() if form.title else form.title,
            version=form.version.strip() if form.version else form.version,
            tag=form.tag,
            url=url,
            additional_info=form.additional_info,
        )
        rules.validate_new_package(package)
        profile = await repos.profiles.get(form.device_profile_id)
        if profile is None or profile.tenant_id != tenant_id:
            raise BadRequest("OtaPackage is referencing to non-existent device profile!")
        if await repos.packages.count(
            tenant_id=tenant_id, title=package.title, version=package.version
        ):
            raise BadRequest(rules.DUPLICATE_PACKAGE)
        try:
            await repos.packages.add(package)
        except DuplicateKey:
            raise BadRequest(rules.DUPLICATE_PACKAGE) from None
        return package

    async def _update(
        self, repos: Repositories, principal: Principal, form: PackageForm
    ) -> OtaPackage:
        assert form.id is not None
        existing = visible(principal, await repos.packages.get(form.id))
        incoming = OtaPackage(
            id=existing.id,
            created_time=existing.created_time,
            tenant_id=existing.tenant_id,
            device_profile_id=form.device_profile_id,
            type=form.type,
            title=form.title,
            version=form.version,
            tag=form.tag,
            url=(form.url or "").strip() or None,
        )
        rules.check_package_update(existing, incoming)
        existing.additional_info = form.additional_info
        await repos.packages.update(existing)
        return existing

    async def upload(
        self,
        principal: Principal,
        package_id: UUID,
        upload: Upload,
        chunks: AsyncIterator[bytes],
    ) -> OtaPackage:
        """Streams the data into the blob store and attaches it to the package.

        Every check that needs no data runs before the first byte is read; a failure at any
        point leaves neither data nor a changed package, and is audited.
        """
        record = AuditRecord(EntityType.OTA_PACKAGE, package_id)
        action = ActionType.OTA_PACKAGE_UPLOADED
        try:
            principal.require_tenant_admin()
            file_name = check_file_name(upload.file_name, self._limits)
            content_type = check_name(upload.content_type, "The file's Content-Type", self._limits)
            algorithm = (
                parse_algorithm(upload.checksum_algorithm)
                if upload.checksum_algorithm is not None
                else ChecksumAlgorithm.SHA256
            )
            expected = (
                normalize_checksum(algorithm, upload.checksum)
                if upload.checksum and upload.checksum.strip()
                else None
            )
            async with self._storage.reading() as repos:
                package = visible(principal, await repos.packages.get(package_id))
            record.entity_name = package.title
            _uploadable(package)
            try:
                staged = await self._blobs.stage(chunks, {algorithm}, self.max_size)
            except BlobTooLarge as exc:
                raise PayloadTooLarge(
                    f"Package data is larger than the limit of {self.max_size} bytes"
                ) from exc
            computed = staged.checksums[algorithm]
            wrong_passes = faults.active(Fault.WRONG_CHECKSUM_ACCEPTED)
            if expected is not None and expected != computed and not wrong_passes:
                await self._blobs.discard(staged)
                raise BadRequest(
                    f"{rules.WRONG_FILE} The {algorithm.value} checksum of the data is "
                    f"{computed}, not {expected}"
                )
            await self._blobs.commit(staged)
            try:
                async with self._storage.transaction() as repos:
                    package = _uploadable(visible(principal, await repos.packages.get(package_id)))
                    package.file_name = file_name
                    package.content_type = content_type
                    package.checksum_algorithm = algorithm
                    package.checksum = computed
                    package.data_size = staged.size
                    package.data_sha256 = staged.sha256
                    await repos.packages.update(package)
                    record.data = {
                        "checksumAlgorithm": algorithm.value,
                        "checksum": computed,
                        "dataSize": staged.size,
                    }
                    await repos.audit.add(
                        self._audit.entry(principal, action, record, ActionStatus.SUCCESS)
                    )
            except BaseException:
                await release_blobs(self._storage, self._blobs, [staged.sha256])
                raise
        except OtaError as error:
            async with self._storage.transaction() as repos:
                await repos.audit.add(
                    self._audit.entry(
                        principal, action, record, ActionStatus.FAILURE, error.message
                    )
                )
            raise
        return package

    async def get(self, principal: Principal, package_id: UUID) -> OtaPackage:
        principal.require(Authority.TENANT_ADMIN, Authority.CUSTOMER_USER)
        async with self._storage.reading() as repos:
            return visible(principal, await repos.packages.get(package_id))

    async def download(self, principal: Principal, package_id: UUID) -> Download:
        principal.require_tenant_admin()
        async with self._storage.reading() as repos:
            package = visible(principal, await repos.packages.get(package_id))
        if package.data_sha256 is None or package.data_size is None:
            raise BadRequest(
                "OtaPackage has no data to download!"
                if not package.url
                else "OtaPackage is a URL package and has no data!"
            )
        return Download(
            path=self._blobs.path_of(package.data_sha256),
            size=package.data_size,
            file_name=package.download_name,
            content_type=package.content_type or "application/octet-stream",
        )

    async def page(self, principal: Principal, request: PageRequest) -> Page:
        # Customer users list the tenant's packages too, read-only, as in ThingsBoard.
        principal.require(Authority.TENANT_ADMIN, Authority.CUSTOMER_USER)
        tenant_id = principal.require_tenant()
        async with self._storage.reading() as repos:
            return await repos.packages.page(request, tenant_id=tenant_id)

    async def page_assignable(
        self,
        principal: Principal,
        request: PageRequest,
        profile_id: UUID,
        package_type: OtaPackageType,
    ) -> Page:
        """Packages that may be assigned to devices of the profile: with data or a URL."""
        principal.require(Authority.TENANT_ADMIN, Authority.CUSTOMER_USER)
        tenant_id = principal.require_tenant()
        async with self._storage.reading() as repos:
            visible(principal, await repos.profiles.get(profile_id))
            return await repos.packages.page_assignable(
                request, tenant_id, profile_id, package_type
            )

    async def delete(self, principal: Principal, package_id: UUID) -> None:
        principal.require_tenant_admin()
        async with self._audit.action(principal, ActionType.DELETED, EntityType.OTA_PACKAGE) as (
            repos,
            record,
        ):
            package = visible(principal, await repos.packages.get(package_id))
            record.entity_id, record.entity_name = package.id, package.title
            if await repos.devices.count_using_package(package_id):
                raise BadRequest(rules.REFERENCED_BY_DEVICE)
            if await repos.profiles.count_using_package(package_id):
                raise BadRequest(rules.REFERENCED_BY_PROFILE)
            await repos.packages.delete(package_id)
        await release_blobs(self._storage, self._blobs, [package.data_sha256])


def _uploadable(package: OtaPackage) -> OtaPackage:
    if package.has_data:
        raise BadRequest("Updating otaPackage data is prohibited!")
    if package.url:
        raise BadRequest("A URL package can't have data!")
    return package
