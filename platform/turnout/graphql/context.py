"""Per-request context: the principal, the tenant it is bound to, and response cookies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from ..auth.principal import Principal
from ..config import Settings
from ..db.session import public_session, tenant_session
from ..kit.errors import Forbidden
from ..tenancy.models import Tenant


@dataclass
class Context:
    request: Request
    principal: Principal
    tenant: Tenant | None
    settings: Settings
    csrf_ok: bool = True
    set_cookies: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    delete_cookies: list[str] = field(default_factory=list)
    loaders: dict[str, Any] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return self.request.client.host if self.request.client else ""

    def require_tenant(self) -> Tenant:
        """The tenant this request is bound to, taken from the authenticated principal."""
        if self.tenant is None or self.principal.tenant_id != self.tenant.id:
            raise Forbidden("this operation needs a signed-in member of a tenant")
        return self.tenant

    @asynccontextmanager
    async def tenant_db(self) -> AsyncIterator[AsyncSession]:
        async with tenant_session(self.require_tenant().ref) as session:
            yield session

    @asynccontextmanager
    async def public_db(self) -> AsyncIterator[AsyncSession]:
        async with public_session() as session:
            yield session
