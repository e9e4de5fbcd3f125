"""Who is asking, and what they may do. Another tenant's entities are reported as missing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, TypeVar
from uuid import UUID

from ..domain import faults
from ..domain.enums import Authority
from ..domain.errors import Forbidden, NotFound
from ..domain.faults import Fault


@dataclass(frozen=True)
class Principal:
    user_id: UUID
    email: str
    authority: Authority
    tenant_id: UUID | None
    customer_id: UUID | None
    # The login the request's token belongs to; logging out ends it.
    session_id: UUID

    def require(self, *authorities: Authority) -> None:
        if self.authority not in authorities:
            raise Forbidden()

    def require_tenant(self) -> UUID:
        """The tenant of a tenant administrator or customer user; refuses the system admin."""
        if self.tenant_id is None:
            raise Forbidden()
        return self.tenant_id

    def require_tenant_admin(self) -> UUID:
        self.require(Authority.TENANT_ADMIN)
        return self.require_tenant()


class TenantOwned(Protocol):
    @property
    def tenant_id(self) -> UUID: ...


Owned = TypeVar("Owned", bound=TenantOwned)


def visible(principal: Principal, entity: Owned | None) -> Owned:
    """The entity if it belongs to the principal's tenant (and customer), else NotFound."""
    if entity is None:
        raise NotFound()
    if entity.tenant_id != principal.tenant_id and not faults.active(Fault.OTHER_TENANT_VISIBLE):
        raise NotFound()
    if principal.authority is Authority.CUSTOMER_USER:
        owner = getattr(entity, "customer_id", principal.customer_id)
        if owner != principal.customer_id:
            raise NotFound()
    return entity
