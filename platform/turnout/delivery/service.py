"""Reminder policies, the outbox (rows written with the change that causes them), claiming
due rows, and delivering one notification through its channel."""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ..crypto.fields import TenantCipher
from ..kit.clock import clock
from ..kit.urls import private_host
from ..recruiting.models import Candidate, Interview, Job
from . import policy as policies
from . import preference, webhooks
from .channels import (
    Channel,
    HttpProvider,
    Message,
    PermanentError,
    SmtpEmail,
    TransientError,
)
from .ical import invite
from .models import OPEN_STATES, ChannelSetting, DeadLetter, Notification, ReminderPolicy
from .templates import custom_for, render

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5
LEASE = timedelta(minutes=2)  # a claim waiting on the workers
# A send in progress: the providers' timeouts (10 s) and some margin. A worker that dies
# mid-send leaves the row `sending`; after this it is claimed again (same idempotency key).
SEND_LEASE = timedelta(seconds=30)
SEND_TIMEOUT = timedelta(seconds=20)  # a provider call is abandoned (and retried) after this
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
    max_in_flight: int = 2000,
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
    # A row whose worker kept dying mid-send stops here instead of going round for ever.
    await session.execute(
        update(n)
        .where(
            n.status.in_(("queued", "sending")), n.claimed_until < now, n.attempts >= MAX_ATTEMPTS
        )
        .values(
            status="failed", claimed_until=None, last_error="gave up: no worker finished sending it"
        )
        .execution_options(synchronize_session=False)
    )
    room = min(limit, max_in_flight - int(in_flight or 0))
    if room <= 0:
        return []
    due = (
        select(n.id)
        .where(
            ((n.status == "pending") & (n.due_at <= now))
            | (n.status.in_(("queued", "sending")) & (n.claimed_until < now))
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


# --- delivering one notification -----------------------------------------------------


@dataclass
class Outcome:
    status: str
    detail: str = ""


def backoff(attempt: int) -> timedelta:
    """Exponential with full jitter: up to 30 s, 60 s, 120 s, ... capped at 30 minutes."""
    return timedelta(seconds=random.uniform(1, min(30 * 2 ** (attempt - 1), 1800)))


def when_text(at: datetime, tz: str, locale: str) -> str:
    local = at.astimezone(ZoneInfo(tz))
    return local.strftime("%Y-%m-%d %H:%M") + (f" ({tz})" if locale != "zh-CN" else "")


async def _take(session: AsyncSession, nid: uuid.UUID) -> Notification | None:
    """queued -> sending, atomically: of two copies of one message, one gets the row."""
    taken = await session.execute(
        update(Notification)
        .where(Notification.id == nid, Notification.status == "queued")
        .values(
            status="sending",
            attempts=Notification.attempts + 1,
            claimed_until=clock.now() + SEND_LEASE,
        )
        .returning(Notification.id)
        .execution_options(synchronize_session=False)
    )
    if taken.scalar_one_or_none() is None:
        await session.rollback()
        return None
    await session.commit()
    return await session.get(Notification, nid, populate_existing=True)


async def deliver(
    session: AsyncSession,
    cipher: TenantCipher,
    nid: uuid.UUID,
    channels: dict[str, Channel],
    link_for,
    tenant_name: str,
    callback: str = "",
) -> Outcome:
    """Send one claimed notification. Only the copy that moves the row from queued to
    sending calls the provider; anything else is a no-op."""
    n = await _take(session, nid)
    if n is None:
        return Outcome("noop")
    interview = await session.get(Interview, n.interview_id)
    cand = await session.get(Candidate, n.candidate_id)
    job = await session.get(Job, interview.job_id)
    skip = await _skip_reason(session, n, interview)
    if skip:
        await _finish(session, n, "void" if skip == "void" else "skipped", error=skip)
        return Outcome(n.status, skip)
    address = reachable(cand, cipher).get(n.channel)
    channel = channels.get(n.channel)
    if address is None or channel is None:
        reason = "no address or consent" if address is None else "channel not configured"
        return await _fail(session, n, cand, cipher, reason)
    link = link_for(n)
    custom = await custom_for(session, n.channel, cand.locale)
    subject, body = render(
        n.channel,
        cand.locale,
        custom,
        name=cand.name,
        job=job.title,
        when=when_text(interview.opens_at, cand.time_zone, cand.locale),
        link=link,
        tenant=tenant_name,
    )
    ics = None
    if n.channel == "email":  # the invite puts the interview in the candidate's calendar
        ics = invite(
            str(interview.id),
            f"Interview: {job.title}",
            interview.opens_at,
            interview.closes_at,
            link,
            interview.attempt - 1,
        )
    await session.commit()  # no transaction stays open while the provider is called
    message = Message(
        str(n.id),
        n.channel,
        address,
        subject,
        body,
        ics,
        status_callback=f"{callback}/{n.channel}",
        link=link,
    )
    try:
        async with asyncio.timeout(SEND_TIMEOUT.total_seconds()):  # well inside SEND_LEASE
            ref = await channel.send(message)
    except (TransientError, TimeoutError) as exc:
        exc = exc if isinstance(exc, TransientError) else TransientError("provider timed out")
        if n.attempts >= MAX_ATTEMPTS:
            return await _fail(session, n, cand, cipher, str(exc))
        await _finish(
            session, n, "pending", error=str(exc), due_at=clock.now() + backoff(n.attempts)
        )
        return Outcome("retry", str(exc))
    except PermanentError as exc:
        return await _fail(session, n, cand, cipher, str(exc))
    except Exception as exc:  # anything unforeseen counts as transient, within MAX_ATTEMPTS
        log.exception("sending notification %s failed unexpectedly", n.id)
        if n.attempts >= MAX_ATTEMPTS:
            return await _fail(session, n, cand, cipher, f"unexpected: {exc!r}"[:500])
        await _finish(
            session,
            n,
            "pending",
            error=f"unexpected: {exc!r}"[:500],
            due_at=clock.now() + backoff(n.attempts),
        )
        return Outcome("retry", repr(exc))
    if not await _finish(session, n, "sent", provider_ref=ref, sent_at=clock.now()):
        return Outcome("noop", "the row moved on meanwhile")
    if n.escalate_after_minutes and n.escalate_channel:
        # One escalation per step: the unique index settles the race between its channels.
        await session.execute(
            pg_insert(Notification)
            .values(
                id=uuid.uuid4(),
                interview_id=n.interview_id,
                candidate_id=n.candidate_id,
                step=n.step,
                channel=n.escalate_channel,
                kind="escalation",
                condition="not_opened",
                parent_id=n.id,
                status="pending",
                due_at=clock.now() + timedelta(minutes=n.escalate_after_minutes),
            )
            .on_conflict_do_nothing(
                index_elements=["interview_id", "step"],
                index_where=Notification.kind == "escalation",
            )
        )
    await session.commit()
    return Outcome("sent", ref)


async def _skip_reason(session: AsyncSession, n: Notification, interview: Interview) -> str:
    if interview.state in FINAL_INTERVIEW_STATES:
        return "void"
    if clock.now() > interview.closes_at:
        return "void"  # a late retry or escalation is of no use any more
    if n.condition == "not_confirmed" and interview.state == "confirmed":
        return "already confirmed"
    if n.condition == "not_opened":
        opened = await session.scalar(
            select(Notification.id)
            .where(
                Notification.interview_id == n.interview_id,
                Notification.step == n.step,
                Notification.opened_at.is_not(None),
            )
            .limit(1)
        )
        if opened is not None:
            return "a reminder of this step was opened"
    return ""


async def _finish(
    session: AsyncSession, n: Notification, status: str, error: str = "", **values
) -> bool:
    """Leave `sending` for `status`; False if the row is no longer ours (nothing changed)."""
    # Ours only while it is `sending` with our attempt: a worker whose lease ran out and whose
    # row another worker took must not overwrite that one's outcome.
    done = await session.execute(
        update(Notification)
        .where(
            Notification.id == n.id,
            Notification.status == "sending",
            Notification.attempts == n.attempts,
        )
        .values(status=status, last_error=error[:1000], claimed_until=None, **values)
        .execution_options(synchronize_session=False)
    )
    await session.commit()
    await session.refresh(n)
    return done.rowcount == 1


async def _fail(
    session: AsyncSession, n: Notification, cand: Candidate, cipher: TenantCipher, error: str
) -> Outcome:
    """Failed for good: a dead letter, and the same step on the candidate's next channel."""
    if not await _finish(session, n, "failed", error=error):
        return Outcome("noop", "the row moved on meanwhile")
    await webhooks.emit(session, "notification.failed", webhooks.notification_data(n))
    session.add(
        DeadLetter(notification_id=n.id, channel=n.channel, error=error[:2000], attempts=n.attempts)
    )
    used = set(
        (
            await session.execute(
                select(Notification.channel).where(
                    Notification.interview_id == n.interview_id, Notification.step == n.step
                )
            )
        ).scalars()
    )
    preferred = await preferred_channels(session, cand, cipher)
    nxt = next((c for c in preferred if c not in used), None)  # their best channel left
    if nxt:
        session.add(
            Notification(
                id=uuid.uuid4(),
                interview_id=n.interview_id,
                candidate_id=n.candidate_id,
                step=n.step,
                channel=nxt,
                kind="fallback",
                condition=n.condition,
                parent_id=n.id,
                status="pending",
                due_at=clock.now(),
            )
        )
    await session.commit()
    return Outcome("failed", error)


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
