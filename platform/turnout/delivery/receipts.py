"""Receipts: providers' signed status callbacks and tracked-link opens move a notification
forward (sent -> delivered -> opened), or mark it failed or bounced."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, Uuid, case, column, delete, func, insert, select, update
from sqlalchemy import values as sql_values
from sqlalchemy.ext.asyncio import AsyncSession

from ..crypto.fields import TenantCipher
from ..evidence import service as evidence
from ..kit.clock import clock
from ..recruiting.models import Candidate
from . import sending, webhooks
from .models import Notification, ReceiptInbox

RANK = {"queued": 0, "sent": 1, "delivered": 2, "opened": 3}
STATUSES = ("delivered", "read", "failed", "bounced")


async def record_status(
    session: AsyncSession, cipher: TenantCipher, nid: uuid.UUID, status: str
) -> bool:
    """Apply a provider's status; only forward moves count. True if the row changed. A
    failure or bounce after the provider accepted the message is a dead letter, and the step
    goes to the candidate's next channel, as if the send itself had failed."""
    now = clock.now()
    n = Notification
    if status == "delivered":
        stmt = (
            update(n)
            .where(n.id == nid, n.status.in_(("queued", "sending", "sent")))
            .values(status="delivered", delivered_at=now)
        )
    elif status == "read":
        return await record_open(session, nid, by="provider")
    elif status in ("failed", "bounced"):
        stmt = (
            update(n)
            .where(n.id == nid, n.status.in_(("queued", "sending", "sent", "delivered")))
            .values(status=status, last_error=f"provider reported {status}")
        )
    else:
        raise ValueError(status)
    row = (
        await session.execute(
            stmt.returning(n).execution_options(synchronize_session=False, populate_existing=True)
        )
    ).scalar_one_or_none()
    if row is None:
        return False
    await evidence.record(
        session,
        f"notification.{status}",
        {"notification_id": str(row.id), "channel": row.channel},
        actor=f"provider:{row.channel}",
        candidate_id=row.candidate_id,
        interview_id=row.interview_id,
    )
    if status == "delivered":
        await webhooks.emit(session, "notification.delivered", webhooks.notification_data(row))
    else:
        cand = await session.get(Candidate, row.candidate_id)
        await sending.dead_letter(session, row, cand, cipher, row.last_error)
    return True


async def record_open(
    session: AsyncSession, nid: uuid.UUID, by: str = "link", user_agent: str = ""
) -> bool:
    """The candidate opened the message's link (`by` "link"), or the provider saw it read
    ("provider"). Every open is evidence; the row keeps the first. The browser's user agent
    goes with a link open: mail scanners and chat previews fetch links too, and whoever reads
    the trail must be able to tell them from a person."""
    now = clock.now()
    n = Notification
    row = (
        await session.execute(
            update(n)
            .where(n.id == nid, n.status.in_(("queued", "sending", "sent", "delivered", "opened")))
            .values(
                status="opened",
                opened_at=case((n.opened_at.is_(None), now), else_=n.opened_at),
                delivered_at=case((n.delivered_at.is_(None), now), else_=n.delivered_at),
            )
            .returning(n.candidate_id, n.interview_id, n.channel)
            .execution_options(synchronize_session=False)
        )
    ).one_or_none()
    if row is None:
        return False
    await evidence.record(
        session,
        "link.opened" if by == "link" else "notification.opened",
        {
            "notification_id": str(nid),
            "channel": row.channel,
            **({"user_agent": user_agent[:300]} if by == "link" else {}),
        },
        actor="candidate" if by == "link" else f"provider:{row.channel}",
        candidate_id=row.candidate_id,
        interview_id=row.interview_id,
    )
    return True


async def queue_status(session: AsyncSession, nid: uuid.UUID, status: str) -> None:
    """Keep a provider's callback for the next pass: one INSERT, so a burst of receipts (a
    provider flushes thousands at once) is answered at once and nothing of it is lost."""
    if status not in STATUSES:
        raise ValueError(status)
    await session.execute(
        insert(ReceiptInbox).values(notification_id=nid, status=status, received_at=clock.now())
    )


async def apply_inbox(session: AsyncSession, cipher: TenantCipher, limit: int = 5000) -> int:
    """Apply up to `limit` queued callbacks, oldest first, in the caller's transaction:
    deliveries and reads in one statement each (with their evidence and webhooks), failures
    and bounces one by one (each a dead letter and a fallback). SKIP LOCKED lets two
    schedulers share the inbox. Returns how many were taken."""
    box = ReceiptInbox.__table__
    taken = (
        select(box.c.id).order_by(box.c.id).limit(limit).with_for_update(skip_locked=True)
    ).scalar_subquery()
    rows = (
        await session.execute(
            delete(box)
            .where(box.c.id.in_(taken))
            .returning(box.c.id, box.c.notification_id, box.c.status, box.c.received_at)
        )
    ).all()
    rows.sort(key=lambda r: r.id)  # as they came: delivered before read before bounced
    delivered = [(r.notification_id, r.received_at) for r in rows if r.status == "delivered"]
    read = [(r.notification_id, r.received_at) for r in rows if r.status == "read"]
    await _apply_delivered(session, delivered)
    await _apply_read(session, read)
    for r in rows:
        if r.status in ("failed", "bounced"):
            await record_status(session, cipher, r.notification_id, r.status)
    return len(rows)


def _values(pairs: list[tuple[uuid.UUID, datetime]]):
    return sql_values(column("id", Uuid), column("at", DateTime(timezone=True)), name="v").data(
        pairs
    )


async def _provider_events(session: AsyncSession, kind: str, moved) -> None:
    """The trail's record of what the provider told us, at the time it told us."""
    await evidence.record_many(
        session,
        [
            evidence.NewEvent(
                kind,
                {"notification_id": str(r.id), "channel": r.channel},
                f"provider:{r.channel}",
                r.candidate_id,
                r.interview_id,
                r.at,
            )
            for r in moved
        ],
    )


async def _apply_delivered(session: AsyncSession, pairs: list[tuple[uuid.UUID, datetime]]):
    if not pairs:
        return
    n, v = Notification.__table__, _values(pairs)
    moved = (
        await session.execute(
            update(n)
            .where(n.c.id == v.c.id, n.c.status.in_(("queued", "sending", "sent")))
            .values(status="delivered", delivered_at=v.c.at)
            .returning(n.c.id, n.c.candidate_id, n.c.interview_id, n.c.channel, v.c.at)
        )
    ).all()
    await _provider_events(session, "notification.delivered", moved)
    rows = (
        await session.execute(
            select(Notification).where(Notification.id.in_([r.id for r in moved]))
        )
    ).scalars()
    await webhooks.emit_many(
        session, "notification.delivered", [webhooks.notification_data(r) for r in rows]
    )


async def _apply_read(session: AsyncSession, pairs: list[tuple[uuid.UUID, datetime]]):
    if not pairs:
        return
    n, v = Notification.__table__, _values(pairs)
    moved = (
        await session.execute(
            update(n)
            .where(
                n.c.id == v.c.id,
                n.c.status.in_(("queued", "sending", "sent", "delivered", "opened")),
            )
            .values(
                status="opened",
                opened_at=func.coalesce(n.c.opened_at, v.c.at),
                delivered_at=func.coalesce(n.c.delivered_at, v.c.at),
            )
            .returning(n.c.id, n.c.candidate_id, n.c.interview_id, n.c.channel, v.c.at)
        )
    ).all()
    await _provider_events(session, "notification.opened", moved)
