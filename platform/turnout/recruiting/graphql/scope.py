"""The tenant session, cipher and loaders a recruiting resolver works with."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from strawberry.types import Info

from ...auth.permissions import Perm
from ...crypto.fields import cipher_for
from ..scheduling import interviewer_of_user
from .loaders import Loaders


@asynccontextmanager
async def scope(info: Info) -> AsyncIterator[Loaders]:
    ctx = info.context
    tenant = ctx.require_tenant()
    async with ctx.tenant_db() as session:
        cipher = await cipher_for(session, tenant.id)
        own = None
        if not ctx.principal.can(Perm.INTERVIEWS_READ):
            mine = await interviewer_of_user(session, ctx.principal.user_id)
            own = mine.id if mine else None
        yield Loaders(session, cipher, ctx.principal, own, tenant.slug)


def actor(info: Info) -> str:
    p = info.context.principal
    return f"user:{p.email}" if p.kind == "user" else f"client:{p.client_id}"
