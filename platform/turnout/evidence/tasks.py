"""Periodic sealing: the scheduler calls seal_due(interval) every so often."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import func, select

from ..db.session import public_session, tenant_session
from ..kit.clock import clock
from ..tenancy.models import Tenant
from ..tenancy.service import list_tenants
from .models import EvidenceHead
from .service import latest_checkpoint, seal

log = logging.getLogger(__name__)


async def seal_if_due(tenant: Tenant, interval: timedelta) -> bool:
    """Seal one tenant whose last checkpoint is older than `interval` and that has events
    since. True if a checkpoint was made."""
    async with tenant_session(tenant.ref) as s:
        last = await latest_checkpoint(s)
        if last is not None and clock.now() - last.sealed_at < interval:
            return False
        total = await s.scalar(select(func.coalesce(func.sum(EvidenceHead.seq), 0)))
        if not total or (last is not None and last.events == total):
            return False
        await seal(s, tenant)
        await s.commit()
        return True


async def seal_due(interval: timedelta) -> int:
    """Seal every active tenant that is due; returns how many were sealed. One tenant
    failing (e.g. not migrated yet) is logged and does not stop the others."""
    async with public_session() as s:
        tenants = [t for t in await list_tenants(s) if t.active]
    sealed = 0
    for tenant in tenants:
        try:
            sealed += await seal_if_due(tenant, interval)
        except Exception:  # reported; the next tenant still gets sealed
            log.exception("sealing the evidence of tenant %s failed", tenant.slug)
    return sealed
