"""Receipts: providers' signed status callbacks and tracked-link opens move a notification
forward (sent -> delivered -> opened), or mark it failed or bounced."""

from __future__ import annotations

import uuid

from sqlalchemy import case, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..crypto.fields import TenantCipher
from ..evidence import service as evidence
from ..kit.clock import clock
from ..recruiting.models import Candidate
from . import sending, webhooks
from .models import Notification

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
