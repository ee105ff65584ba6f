"""Delivering claimed notifications, a batch at a time: one statement takes the batch, three
load what the messages need, the providers are called concurrently, and one statement per
outcome records the results. A single notification is a batch of one."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import (
    DateTime,
    Integer,
    String,
    Uuid,
    case,
    cast,
    column,
    func,
    select,
    tuple_,
    update,
)
from sqlalchemy import values as sql_values
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ..crypto.fields import TenantCipher
from ..evidence import service as evidence
from ..kit.clock import clock
from ..recruiting.models import Candidate, Interview, Job
from . import webhooks
from .channels import Channel, Message, PermanentError, TransientError
from .ical import invite
from .models import DeadLetter, MessageTemplate, Notification
from .service import FINAL_INTERVIEW_STATES, MAX_ATTEMPTS, preferred_channels, reachable
from .templates import kind_of, render

log = logging.getLogger(__name__)
# A send in progress: the providers' timeouts (10 s) and some margin. A worker that dies
# mid-send leaves the row `sending`; after this it is claimed again (same idempotency key).
SEND_LEASE = timedelta(seconds=30)
SEND_TIMEOUT = timedelta(seconds=20)  # a provider call is abandoned (and retried) after this
CONCURRENT_SENDS = 64  # provider calls in flight per batch


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


async def _take(session: AsyncSession, ids: list[uuid.UUID]) -> list[Notification]:
    """queued -> sending, atomically: of two copies of one message, one gets the row."""
    taken = await session.execute(
        update(Notification)
        .where(Notification.id.in_(ids), Notification.status == "queued")
        .values(
            status="sending",
            attempts=Notification.attempts + 1,
            claimed_until=clock.now() + SEND_LEASE,
        )
        .returning(Notification)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    rows = list(taken.scalars())
    await session.commit()
    return rows


@dataclass
class _Context:
    """What the batch's messages need, loaded once for all of them."""

    interviews: dict[uuid.UUID, Interview]
    candidates: dict[uuid.UUID, Candidate]
    jobs: dict[uuid.UUID, Job]
    opened_steps: set[tuple[uuid.UUID, int]]
    templates: dict[tuple[str, str], tuple[str, str]]


async def by_id(session: AsyncSession, model, ids) -> dict:
    """Rows of `model` by primary key, in one query."""
    rows = await session.execute(select(model).where(model.id.in_(set(ids))))
    return {r.id: r for r in rows.scalars()}


async def _load(session: AsyncSession, batch: list[Notification]) -> _Context:
    interviews = await by_id(session, Interview, (n.interview_id for n in batch))
    candidates = await by_id(session, Candidate, (n.candidate_id for n in batch))
    jobs = await by_id(session, Job, (i.job_id for i in interviews.values()))
    steps = {(n.interview_id, n.step) for n in batch if n.condition == "not_opened"}
    opened: set[tuple[uuid.UUID, int]] = set()  # (interview, step) with an opened message
    if steps:
        opened = {
            (iid, step)
            for iid, step in (
                await session.execute(
                    select(Notification.interview_id, Notification.step)
                    .where(
                        tuple_(Notification.interview_id, Notification.step).in_(list(steps)),
                        Notification.opened_at.is_not(None),
                    )
                    .distinct()
                )
            ).all()
        }
    templates = {
        (t.kind, t.locale): (t.subject, t.body)
        for t in (await session.execute(select(MessageTemplate))).scalars()
    }
    return _Context(interviews, candidates, jobs, opened, templates)


def _skip_reason(n: Notification, interview: Interview, ctx: _Context) -> str:
    if interview.state in FINAL_INTERVIEW_STATES:
        return "void"
    if clock.now() > interview.closes_at:
        return "void"  # a late retry or escalation is of no use any more
    if n.condition == "not_confirmed" and interview.state == "confirmed":
        return "already confirmed"
    if n.condition == "not_opened" and (n.interview_id, n.step) in ctx.opened_steps:
        return "a reminder of this step was opened"
    return ""


def _message(
    n: Notification, ctx: _Context, cipher: TenantCipher, link: str, tenant: str, callback: str
) -> Message | str:
    """The message to send, or why there is none."""
    interview = ctx.interviews[n.interview_id]
    cand = ctx.candidates[n.candidate_id]
    job = ctx.jobs[interview.job_id]
    address = reachable(cand, cipher).get(n.channel)
    if address is None:
        return "no address or consent"
    subject, body = render(
        n.channel,
        cand.locale,
        ctx.templates.get((kind_of(n.channel), cand.locale)),
        name=cand.name,
        job=job.title,
        when=when_text(interview.opens_at, cand.time_zone, cand.locale),
        link=link,
        tenant=tenant,
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
    return Message(
        str(n.id),
        n.channel,
        address,
        subject,
        body,
        ics,
        status_callback=f"{callback}/{n.channel}",
        link=link,
    )


async def _call(channel: Channel, message: Message, gate: asyncio.Semaphore) -> tuple[str, str]:
    """("sent", provider ref) | ("retry", error) | ("fail", error)."""
    async with gate:
        try:
            async with asyncio.timeout(SEND_TIMEOUT.total_seconds()):  # well inside SEND_LEASE
                return "sent", await channel.send(message)
        except TimeoutError:
            return "retry", "provider timed out"
        except TransientError as exc:
            return "retry", str(exc)
        except PermanentError as exc:
            return "fail", str(exc)
        except Exception as exc:  # anything unforeseen counts as transient, within MAX_ATTEMPTS
            log.exception("sending notification %s failed unexpectedly", message.notification_id)
            return "retry", f"unexpected: {exc!r}"[:500]


async def deliver_many(
    session: AsyncSession,
    cipher: TenantCipher,
    ids: list[uuid.UUID],
    channels: dict[str, Channel],
    link_for: Callable[[Notification], str],
    tenant_name: str,
    callback: str = "",
) -> dict[uuid.UUID, Outcome]:
    """Send claimed notifications. Only the copy that moves a row from queued to sending
    calls the provider; for anything else the outcome is a no-op."""
    out = {i: Outcome("noop") for i in ids}
    batch = await _take(session, ids)
    if not batch:
        return out
    ctx = await _load(session, batch)
    await session.commit()  # no transaction stays open while the providers are called
    finished: list[tuple[Notification, str, str]] = []  # (row, status, error) without a call
    failed: list[tuple[Notification, str]] = []
    calls: list[tuple[Notification, Channel, Message]] = []
    for n in batch:
        skip = _skip_reason(n, ctx.interviews[n.interview_id], ctx)
        if skip:
            finished.append((n, "void" if skip == "void" else "skipped", skip))
            continue
        channel = channels.get(n.channel)
        try:
            msg = _message(n, ctx, cipher, link_for(n), tenant_name, callback)
        except Exception as exc:  # a template that breaks on this candidate: only this row fails
            log.exception("cannot make notification %s", n.id)
            msg = f"cannot make the message: {exc!r}"[:500]
        if isinstance(msg, str) or channel is None:
            failed.append((n, msg if isinstance(msg, str) else "channel not configured"))
        else:
            calls.append((n, channel, msg))
    gate = asyncio.Semaphore(CONCURRENT_SENDS)
    results = await asyncio.gather(*(_call(ch, m, gate) for _, ch, m in calls))
    now = clock.now()
    sent: list[tuple[Notification, str]] = []
    retry: list[tuple[Notification, str, datetime]] = []
    for (n, _, _), (kind, detail) in zip(calls, results, strict=True):
        if kind == "sent":
            sent.append((n, detail))
        elif kind == "retry" and n.attempts < MAX_ATTEMPTS:
            retry.append((n, detail, now + backoff(n.attempts)))
        else:
            failed.append((n, detail))
    skipped = await _finish_many(session, [(n, s, e, None, None) for n, s, e in finished])
    for n, status, error in finished:
        out[n.id] = Outcome(status, error) if n.id in skipped else Outcome("noop", "moved on")
    await _finish_many(session, [(n, "pending", e, None, due) for n, e, due in retry])
    for n, e, _ in retry:
        out[n.id] = Outcome("retry", e)
    done = await _finish_many(session, [(n, "sent", "", ref, now) for n, ref in sent])
    for n, ref in sent:
        out[n.id] = Outcome("sent", ref) if n.id in done else Outcome("noop", "moved on")
    await _escalate(session, [n for n, _ in sent if n.id in done], now)
    messages = {n.id: m for n, _, m in calls}
    await evidence.record_many(
        session,
        # The provider took these, whether or not the row was still ours (a receipt or
        # another worker may have moved it on): that it went out is a fact either way.
        [_sent_event(n, messages[n.id], ref, now) for n, ref in sent]
        + [
            evidence.NewEvent(
                "notification.skipped",
                {"notification_id": str(n.id), "channel": n.channel, "reason": why},
                "system",
                n.candidate_id,
                n.interview_id,
                now,
            )
            for n, _, why in finished
            if n.id in skipped
        ],
    )
    await session.commit()
    for n, error in failed:
        out[n.id] = await fail(session, n, ctx.candidates[n.candidate_id], cipher, error)
    return out


GAVE_UP = "gave up: no worker finished sending it"


async def give_up_stuck(session: AsyncSession, cipher: TenantCipher, now: datetime) -> int:
    """Rows whose workers kept dying mid-send (MAX_ATTEMPTS takes, none finished) stop here
    instead of going round for ever: failed, with a dead letter, the evidence and the next
    channel, as any other failure. In the caller's transaction."""
    rows = list(
        (
            await session.execute(
                update(Notification)
                .where(
                    Notification.status.in_(("queued", "sending")),
                    Notification.claimed_until < now,
                    Notification.attempts >= MAX_ATTEMPTS,
                )
                .values(status="failed", claimed_until=None, last_error=GAVE_UP)
                .returning(Notification)
                .execution_options(synchronize_session=False, populate_existing=True)
            )
        ).scalars()
    )
    if not rows:
        return 0
    cands = await by_id(session, Candidate, (n.candidate_id for n in rows))
    await evidence.record_many(
        session,
        [
            evidence.NewEvent(
                "notification.failed",
                {
                    "notification_id": str(n.id),
                    "channel": n.channel,
                    "error": GAVE_UP,
                    "attempts": n.attempts,
                },
                "system",
                n.candidate_id,
                n.interview_id,
                now,
            )
            for n in rows
        ],
    )
    for n in rows:
        await dead_letter(session, n, cands[n.candidate_id], cipher, GAVE_UP)
    return len(rows)


def masked(channel: str, address: str) -> str:
    """Enough of an address to tell which one it was, in the trail and its PDF."""
    if channel == "email" and "@" in address:
        user, _, domain = address.partition("@")
        return f"{user[:1]}***@{domain}"
    if channel in ("sms", "voice"):
        return address[:3] + "*" * max(0, len(address) - 7) + address[-4:]
    return address[:4] + "***"


MAX_BODY_IN_TRAIL = 4000  # characters; the hash covers the whole text


def _sent_event(n: Notification, m: Message, ref: str, at: datetime) -> evidence.NewEvent:
    """What went out and where: the record of "you were told". The text is kept with its
    tracked link replaced by "[link]": the link opens the candidate's portal, and whoever
    reads the trail (an interviewer, an auditor, a court) must not be able to act as the
    candidate. `sent_sha256` is the hash of the text exactly as sent, so the candidate's own
    copy can be checked against it; `link_sha256` does the same for the link."""
    subject, body = m.subject, m.body
    if m.link:
        subject, body = subject.replace(m.link, "[link]"), body.replace(m.link, "[link]")
    return evidence.NewEvent(
        "notification.sent",
        {
            "notification_id": str(n.id),
            "channel": n.channel,
            "address_masked": masked(n.channel, m.to),
            "subject": subject[:500],
            "body": body[:MAX_BODY_IN_TRAIL],
            "body_truncated": len(body) > MAX_BODY_IN_TRAIL,
            "sent_sha256": hashlib.sha256(m.body.encode()).hexdigest(),
            "link_sha256": hashlib.sha256(m.link.encode()).hexdigest() if m.link else None,
            "step": n.step,
            "kind": n.kind,
            "attempt": n.attempts,
            "provider_ref": ref,
        },
        "system",
        n.candidate_id,
        n.interview_id,
        at,
    )


_V = (
    column("id", Uuid),
    column("attempts", Integer),
    column("status", String),
    column("error", String),
    column("ref", String),
    column("at", DateTime(timezone=True)),
)


async def _finish_many(
    session: AsyncSession,
    rows: list[tuple[Notification, str, str, str | None, datetime | None]],
) -> set[uuid.UUID]:
    """Leave `sending` for each row's status in one statement; returns the rows that were
    still ours. `at` is sent_at for `sent` and the next due_at for `pending` (a retry)."""
    if not rows:
        return set()
    v = sql_values(*_V, name="v").data(
        [(n.id, n.attempts, status, error[:1000], ref, at) for n, status, error, ref, at in rows]
    )
    t = Notification.__table__
    at = cast(v.c.at, DateTime(timezone=True))  # a first row of NULLs would type it as text
    # Ours only while it is `sending` with our attempt: a worker whose lease ran out and whose
    # row another worker took must not overwrite that one's outcome. A receipt may beat the
    # provider's answer (delivered before we wrote sent): keep its status, add what we know.
    ours = (t.c.status == "sending") | (
        (v.c.status == "sent") & t.c.status.in_(("delivered", "opened"))
    )
    done = await session.execute(
        update(t)
        .where(t.c.id == v.c.id, t.c.attempts == v.c.attempts, ours)
        .values(
            status=case((t.c.status == "sending", v.c.status), else_=t.c.status),
            last_error=v.c.error,
            claimed_until=None,
            provider_ref=func.coalesce(cast(v.c.ref, String), t.c.provider_ref),
            sent_at=case((v.c.status == "sent", at), else_=t.c.sent_at),
            due_at=case((v.c.status == "pending", at), else_=t.c.due_at),
        )
        .returning(t.c.id)
    )
    return set(done.scalars())


async def _escalate(session: AsyncSession, sent: list[Notification], now: datetime) -> None:
    """One escalation per step: the unique index settles the race between its channels."""
    rows = [
        {
            "id": uuid.uuid4(),
            "interview_id": n.interview_id,
            "candidate_id": n.candidate_id,
            "step": n.step,
            "channel": n.escalate_channel,
            "kind": "escalation",
            "condition": "not_opened",
            "parent_id": n.id,
            "status": "pending",
            "attempts": 0,
            "last_error": "",
            "due_at": now + timedelta(minutes=n.escalate_after_minutes),
        }
        for n in sent
        if n.escalate_after_minutes and n.escalate_channel
    ]
    if rows:
        await session.execute(
            pg_insert(Notification)
            .values(rows)
            .on_conflict_do_nothing(
                index_elements=["interview_id", "step"],
                index_where=Notification.kind == "escalation",
            )
        )


async def fail(
    session: AsyncSession, n: Notification, cand: Candidate, cipher: TenantCipher, error: str
) -> Outcome:
    """Failed for good: a dead letter, and the same step on the candidate's next channel."""
    if not await _finish_many(session, [(n, "failed", error, None, None)]):
        await session.rollback()
        return Outcome("noop", "the row moved on meanwhile")
    await session.refresh(n)
    await evidence.record(
        session,
        "notification.failed",
        {
            "notification_id": str(n.id),
            "channel": n.channel,
            "error": error[:500],
            "attempts": n.attempts,
        },
        actor="system",
        candidate_id=n.candidate_id,
        interview_id=n.interview_id,
    )
    await dead_letter(session, n, cand, cipher, error)
    await session.commit()
    return Outcome("failed", error)


async def dead_letter(
    session: AsyncSession, n: Notification, cand: Candidate, cipher: TenantCipher, error: str
) -> None:
    """Keep the failure, tell the integrators, and try the step on the next channel (also
    when a provider reports a failure or bounce after accepting the message)."""
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
    await session.flush()
