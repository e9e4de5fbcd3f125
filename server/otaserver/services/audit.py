"""The audit log: who did what to which entity, and whether it worked."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

from ..domain.enums import ActionStatus, ActionType, Authority, EntityType
from ..domain.errors import OtaError
from ..domain.model import AuditEntry, JsonDict, Page, PageRequest
from .access import Principal
from .ports import Clock, Repositories, Storage

MAX_NAME_LENGTH = 255


@dataclass
class AuditRecord:
    """What an action fills in as it goes; written when the action ends, however it ends."""

    entity_type: EntityType
    entity_id: UUID | None = None
    entity_name: str | None = None
    data: JsonDict = field(default_factory=dict)
    # Set when the action turns out to be a more telling one (an update that assigns a package).
    action: ActionType | None = None


class AuditLog:
    """Also the one place every successful change passes: `on_change` runs after each."""

    def __init__(
        self, storage: Storage, clock: Clock, on_change: Callable[[], None] = lambda: None
    ) -> None:
        self._storage = storage
        self._clock = clock
        self._on_change = on_change

    def entry(
        self,
        principal: Principal,
        action: ActionType,
        record: AuditRecord,
        status: ActionStatus,
        failure: str | None = None,
    ) -> AuditEntry:
        return AuditEntry(
            id=uuid4(),
            created_time=self._clock.now_ms(),
            tenant_id=principal.tenant_id,
            customer_id=principal.customer_id,
            user_id=principal.user_id,
            user_name=principal.email,
            entity_type=record.entity_type,
            entity_id=record.entity_id,
            # A failed action may carry the very name that was too long to store.
            entity_name=record.entity_name[:MAX_NAME_LENGTH] if record.entity_name else None,
            action_type=record.action or action,
            action_status=status,
            action_data=record.data,
            failure_details=failure,
        )

    @asynccontextmanager
    async def action(
        self, principal: Principal, action: ActionType, entity_type: EntityType
    ) -> AsyncIterator[tuple[Repositories, AuditRecord]]:
        """A transaction whose success is audited in it, and whose failure is audited apart.

        A failed action's changes roll back, so its FAILURE entry goes in a transaction of its own.
        """
        record = AuditRecord(entity_type)
        try:
            async with self._storage.transaction() as repos:
                yield repos, record
                await repos.audit.add(self.entry(principal, action, record, ActionStatus.SUCCESS))
            self._on_change()
        except OtaError as error:
            await self.add(principal, action, record, ActionStatus.FAILURE, error.message)
            raise

    async def add(
        self,
        principal: Principal,
        action: ActionType,
        record: AuditRecord,
        status: ActionStatus,
        failure: str | None = None,
    ) -> None:
        """One entry, in a transaction of its own."""
        async with self._storage.transaction() as repos:
            await repos.audit.add(self.entry(principal, action, record, status, failure))

    async def page(self, principal: Principal, request: PageRequest, **where: Any) -> Page:
        async with self._storage.reading() as repos:
            if principal.authority is Authority.SYS_ADMIN:
                return await repos.audit.page(request, **where)
            if principal.authority is Authority.CUSTOMER_USER:
                where["customer_id"] = principal.customer_id
            return await repos.audit.page(request, tenant_id=principal.tenant_id, **where)
