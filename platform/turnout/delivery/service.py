"""Reminder policies, the outbox (rows written with the change that causes them), claiming
due rows, and delivering one notification through its channel."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..crypto.fields import TenantCipher
from ..kit.clock import clock
from ..kit.urls import private_host
from ..recruiting.models import Candidate, Interview, Job
from . import policy as policies
from . import preference
from .channels import (
    Channel,
    HttpProvider,
    SmtpEmail,
)
from .models import OPEN_STATES, ChannelSetting, Notification, ReminderPolicy

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5
LEASE = timedelta(minutes=2)  # a claim waiting on the workers
CHANNEL_ORDER = ("sms", "email", "wechat", "push", "voice")
ADDRESS = {
    "sms": "phone_enc",
    "voice": "phone_enc",
    "email": "email_enc",
    "wechat": "wechat_openid_enc",
    "push": "push_token_enc",
}
FINAL_INTERVIEW_STATES = ("cancelled", "rescheduled", "completed", "no_show", "started")


# --- policies ------------------------------------------------------------------------


async def policy_for(session: AsyncSession, priority: str = "") -> policies.Policy:
    """The policy for a job priority, else the tenant's default, else the built-in one."""
    rows = {
        r.priority: r
        for r in (
            await session.execute(
                select(ReminderPolicy).where(ReminderPolicy.priority.in_([priority, ""]))
            )
        ).scalars()
    }
    row = rows.get(priority) or rows.get("")
    return policies.Policy.from_json(row.body) if row else policies.DEFAULT


async def set_policy(
    session: AsyncSession, priority: str, policy: policies.Policy, actor: str
) -> policies.Policy:
    from ..kit.errors import invalid
    from ..recruiting.models import PRIORITIES

    if priority not in ("", *PRIORITIES):
        raise invalid("priority", f"must be empty (the default) or one of {', '.join(PRIORITIES)}")
    policies.check(policy)
    row = await session.get(ReminderPolicy, priority)
    if row is None:
        session.add(ReminderPolicy(priority=priority, body=policy.to_json(), updated_by=actor))
    else:
        row.body, row.updated_by = policy.to_json(), actor
    await session.flush()
    return policy


# --- the outbox ----------------------------------------------------------------------


def reachable(c: Candidate, cipher: TenantCipher) -> dict[str, str]:
    """Channel -> address, for channels with an address and no refused consent."""
    out = {}
    for channel in CHANNEL_ORDER:
        column = ADDRESS[channel]
        blob = getattr(c, column)
        if blob is None or c.consent.get(channel) is False:
            continue
        out[channel] = cipher.decrypt(blob, "candidates", column, c.id)
    return out


async def preferred_channels(
    session: AsyncSession, cand: Candidate, cipher: TenantCipher
) -> list[str]:
    """Where the candidate can be reached, their best channel first."""
    ranked = (await preference.scores(session, [cand.id]))[cand.id]
    return preference.order(ranked, list(reachable(cand, cipher)))


async def plan_for_interview(
    session: AsyncSession, cipher: TenantCipher, interview: Interview
) -> list[Notification]:
    """Write the interview's reminders into the outbox, in the caller's transaction."""
    cand = await session.get(Candidate, interview.candidate_id)
    job = await session.get(Job, interview.job_id)
    pol = await policy_for(session, job.priority)
    planned = policies.plan(
        pol,
        interview.kind,
        interview.opens_at,
        interview.closes_at,
        cand.time_zone,
        clock.now(),
        await preferred_channels(session, cand, cipher),
    )
    rows = [
        Notification(
            id=uuid.uuid4(),
            interview_id=interview.id,
            candidate_id=cand.id,
            step=p.step,
            channel=p.channel,
            condition=p.condition,
            escalate_after_minutes=p.escalate_after_minutes,
            escalate_channel=p.escalate_channel,
            due_at=p.due_at,
            status="pending",
        )
        for p in planned
    ]
    session.add_all(rows)
    await session.flush()
    return rows


async def void_for_interview(session: AsyncSession, interview_id: uuid.UUID) -> int:
    done = await session.execute(
        update(Notification)
        .where(Notification.interview_id == interview_id, Notification.status.in_(OPEN_STATES))
        .values(status="void", claimed_until=None)
        .execution_options(synchronize_session=False)
    )
    return done.rowcount or 0


async def claim_due(
    session: AsyncSession,
    now: datetime,
    limit: int = 500,
    lease: timedelta = LEASE,
    max_in_flight: int = 5000,
) -> list[uuid.UUID]:
    """Due rows, and rows whose lease ran out (their worker died), marked queued for a lease;
    SKIP LOCKED lets several schedulers claim side by side without taking the same row.
    At most `max_in_flight` rows wait on the workers at once, so a backlog in the broker is
    not claimed again before the workers reach it."""
    n = Notification
    in_flight = await session.scalar(
        select(func.count())
        .select_from(n)
        .where(n.status.in_(("queued", "sending")), n.claimed_until >= now)
    )
    room = min(limit, max_in_flight - int(in_flight or 0))
    if room <= 0:
        return []
    due = (
        select(n.id)
        .where(
            ((n.status == "pending") & (n.due_at <= now))
            | (
                n.status.in_(("queued", "sending"))
                & (n.claimed_until < now)
                & (n.attempts < MAX_ATTEMPTS)  # those give up instead (sending.give_up_stuck)
            )
        )
        .order_by(n.due_at)
        .limit(room)
        .with_for_update(skip_locked=True)
    )
    rows = await session.execute(
        update(n)
        .where(n.id.in_(due.scalar_subquery()))
        .values(status="queued", claimed_until=now + lease)
        .returning(n.id)
        .execution_options(synchronize_session=False)
    )
    return list(rows.scalars())


# --- the tenant's own providers ----------------------------------------------------------


async def set_channel(
    session: AsyncSession,
    cipher: TenantCipher,
    channel: str,
    base_url: str,
    credential: str | None,
    sender: str = "",
    allow_internal: bool = False,
) -> ChannelSetting:
    from urllib.parse import urlparse

    from ..kit.errors import FieldProblem, InvalidInput

    p = []
    if channel not in policies.CHANNELS:
        p.append(FieldProblem("channel", f"must be one of {', '.join(policies.CHANNELS)}"))
    parts = urlparse(base_url)
    want = ("smtp",) if channel == "email" else ("http", "https")
    if parts.scheme not in want or not parts.netloc:
        p.append(FieldProblem("baseUrl", f"must be a {' or '.join(want)} URL"))
    elif not allow_internal and (bad := private_host(base_url)):
        p.append(
            FieldProblem(
                "baseUrl", f"points inside the platform's network ({bad})", "internal_address"
            )
        )
    if p:
        raise InvalidInput(problems=p)
    row = await session.get(ChannelSetting, channel) or ChannelSetting(channel=channel)
    row.base_url, row.sender = base_url, sender
    if credential is not None:
        row.credential_enc = (
            cipher.encrypt(credential, "channel_settings", "credential_enc", channel)
            if credential
            else None
        )
    session.add(row)
    await session.flush()
    return row


async def tenant_channels(
    session: AsyncSession, cipher: TenantCipher, default_sender: str
) -> dict[str, Channel]:
    """The channels a tenant configured for itself (they win over the platform's)."""
    out: dict[str, Channel] = {}
    for row in (await session.execute(select(ChannelSetting))).scalars():
        secret = (
            cipher.decrypt(row.credential_enc, "channel_settings", "credential_enc", row.channel)
            if row.credential_enc
            else ""
        )
        if row.channel == "email":
            host, _, port = row.base_url.split("://", 1)[-1].partition(":")
            out["email"] = SmtpEmail(host, int(port or 25), row.sender or default_sender)
        else:
            out[row.channel] = HttpProvider(row.base_url, row.channel, secret, row.sender)
    return out
