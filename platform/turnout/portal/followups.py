"""The recruiters' follow-up queue: what candidates asked for through the portal and what the
interview vendor reported that needs a person."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, not_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from ..delivery import webhooks
from ..kit.clock import clock
from ..kit.errors import Conflict, NotFound, invalid
from ..kit.ids import global_id
from ..recruiting.models import Interview
from .models import FOLLOW_UP_STATUSES, FollowUp

MAX_TEXT = 2000


def follow_up_data(f: FollowUp) -> dict:
    return {
        "follow_up_id": global_id("FollowUp", f.id),
        "interview_id": global_id("Interview", f.interview_id),
        "candidate_id": global_id("Candidate", f.candidate_id),
        "kind": f.kind,
        "urgent": f.urgent,
        "description": f.description,
    }


async def open_follow_up(
    session: AsyncSession, interview: Interview, kind: str, urgent: bool, text: str
) -> FollowUp:
    """One open follow-up per interview and kind: a repeat adds its text to the open one,
    so a candidate clicking twice does not fill the queue."""
    found = (
        await session.execute(
            select(FollowUp)
            .where(
                FollowUp.interview_id == interview.id,
                FollowUp.kind == kind,
                FollowUp.status == "open",
            )
            .with_for_update()
        )
    ).scalar_one_or_none()
    if found is not None:
        if text:
            joined = f"{found.description}\n---\n{text}" if found.description else text
            found.description = joined[-10 * MAX_TEXT :]
        await session.flush()
        return found
    f = FollowUp(
        id=uuid.uuid4(),
        interview_id=interview.id,
        candidate_id=interview.candidate_id,
        kind=kind,
        urgent=urgent,
        description=text,
        status="open",
        created_at=clock.now(),
    )
    session.add(f)
    await session.flush()
    await webhooks.emit(session, "followup.created", follow_up_data(f))
    return f


async def resolve_follow_up(session: AsyncSession, fid: uuid.UUID, actor: str) -> FollowUp:
    f = await session.get(FollowUp, fid, with_for_update=True)
    if f is None:
        raise NotFound("no such follow-up", "id")
    if f.status == "resolved":
        raise Conflict(f"already resolved by {f.resolved_by}", "id")
    f.status, f.resolved_by, f.resolved_at = "resolved", actor[:120], clock.now()
    await session.flush()
    return f


@dataclass
class FollowUpPage:
    rows: list[FollowUp]
    has_next: bool


def follow_ups_query(status: str | None):
    if status is not None and status not in FOLLOW_UP_STATUSES:
        raise invalid("status", f"must be one of {', '.join(FOLLOW_UP_STATUSES)}")
    stmt = select(FollowUp)
    return stmt.where(FollowUp.status == status) if status else stmt


async def follow_up_page(
    session: AsyncSession,
    status: str | None,
    n: int,
    after: tuple[bool, datetime, uuid.UUID] | None,
) -> FollowUpPage:
    """The queue: urgent first, then oldest first (keyset on (not urgent, created_at, id))."""
    key = tuple_(not_(FollowUp.urgent), FollowUp.created_at, FollowUp.id)
    stmt = follow_ups_query(status).order_by(
        not_(FollowUp.urgent), FollowUp.created_at, FollowUp.id
    )
    if after is not None:
        stmt = stmt.where(key > tuple_(*after))
    rows = list((await session.execute(stmt.limit(n + 1))).scalars())
    return FollowUpPage(rows[:n], len(rows) > n)


async def count_follow_ups(session: AsyncSession, status: str | None) -> int:
    return await session.scalar(
        select(func.count()).select_from(follow_ups_query(status).subquery())
    )
