"""Receipts: providers' signed status callbacks and tracked-link opens move a notification
forward (sent -> delivered -> opened), or mark it failed or bounced."""

from __future__ import annotations

import uuid

from sqlalchemy import case, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..kit.clock import clock
from . import webhooks
from .models import Notification

RANK = {"queued": 0, "sent": 1, "delivered": 2, "opened": 3}
STATUSES = ("delivered", "read", "failed", "bounced")


async def record_status(session: AsyncSession, nid: uuid.UUID, status: str) -> bool:
    """Apply a provider's status; only forward moves count. True if the row changed."""
    now = clock.now()
    n = Notification
    if status == "delivered":
        stmt = (
            update(n)
            .where(n.id == nid, n.status.in_(("queued", "sending", "sent")))
            .values(status="delivered", delivered_at=now)
        )
    elif status == "read":
        return await record_open(session, nid)
    elif status in ("failed", "bounced"):
        stmt = (
            update(n)
            .where(n.id == nid, n.status.in_(("queued", "sending", "sent", "delivered")))
            .values(status=status, last_error=f"provider reported {status}")
        )
    else:
        raise ValueError(status)
    done = await session.execute(stmt.execution_options(synchronize_session=False))
    if done.rowcount:
        row = await session.get(Notification, nid, populate_existing=True)
        event = "notification.delivered" if status == "delivered" else "notification.failed"
        await webhooks.emit(session, event, webhooks.notification_data(row))
    return bool(done.rowcount)


async def record_open(session: AsyncSession, nid: uuid.UUID) -> bool:
    """The candidate opened the message's link (or the provider saw it read)."""
    now = clock.now()
    n = Notification
    done = await session.execute(
        update(n)
        .where(n.id == nid, n.status.in_(("queued", "sending", "sent", "delivered", "opened")))
        .values(
            status="opened",
            opened_at=case((n.opened_at.is_(None), now), else_=n.opened_at),
            delivered_at=case((n.delivered_at.is_(None), now), else_=n.delivered_at),
        )
        .execution_options(synchronize_session=False)
    )
    return bool(done.rowcount)
