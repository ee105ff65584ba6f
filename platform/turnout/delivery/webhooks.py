"""Webhooks out to integrators: per-tenant subscriptions to events, each delivery a row in the
outbox (written with the change that causes it), HMAC-signed with a timestamp, retried."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from urllib.parse import urlparse

import httpx
import orjson
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..crypto.fields import TenantCipher
from ..kit.clock import clock
from ..kit.errors import FieldProblem, InvalidInput, NotFound
from ..kit.ids import global_id, new_secret
from ..kit.urls import private_host
from .models import WebhookDelivery, WebhookSubscription
from .signing import sign

EVENTS = (
    "interview.scheduled",
    "interview.confirmed",
    "interview.started",
    "interview.completed",
    "interview.no_show",
    "interview.cancelled",
    "interview.rescheduled",
    "notification.delivered",
    "notification.failed",
    "followup.created",  # a candidate or the interview vendor needs a recruiter (portal)
)
MAX_ATTEMPTS = 8
TIMEOUT = 10.0


async def subscribe(
    session: AsyncSession,
    cipher: TenantCipher,
    url: str,
    events: list[str],
    allow_internal: bool = False,
) -> tuple[WebhookSubscription, str]:
    """Returns the subscription and its signing secret, shown once."""
    p = []
    parts = urlparse(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 2000:
        p.append(FieldProblem("url", "must be an http(s) URL"))
    elif not allow_internal and (bad := private_host(url)):
        p.append(
            FieldProblem("url", f"points inside the platform's network ({bad})", "internal_address")
        )
    if not events:
        p.append(FieldProblem("events", "at least one event"))
    p += [
        FieldProblem("events", f"unknown event {e!r}; events: {', '.join(EVENTS)}")
        for e in events
        if e not in EVENTS
    ]
    if p:
        raise InvalidInput(problems=p)
    secret = new_secret(32)
    sub = WebhookSubscription(id=uuid.uuid4(), url=url, events=sorted(set(events)), active=True)
    sub.secret_enc = cipher.encrypt(secret, "webhook_subscriptions", "secret_enc", sub.id)
    session.add(sub)
    await session.flush()
    return sub, secret


async def unsubscribe(session: AsyncSession, sid: uuid.UUID) -> None:
    done = await session.execute(delete(WebhookSubscription).where(WebhookSubscription.id == sid))
    if not done.rowcount:
        raise NotFound("no such webhook subscription", "id")


async def emit(session: AsyncSession, event: str, data: dict) -> int:
    """Queue the event for every subscription that wants it, in the caller's transaction."""
    return await emit_many(session, event, [data])


async def emit_many(session: AsyncSession, event: str, datas: list[dict]) -> int:
    """emit() for many events of one kind: one look at the subscriptions."""
    if not datas:
        return 0
    subs = (
        (
            await session.execute(
                select(WebhookSubscription.id).where(
                    WebhookSubscription.active.is_(True),
                    WebhookSubscription.events.contains([event]),
                )
            )
        )
        .scalars()
        .all()
    )
    now = clock.now()
    session.add_all(
        [
            WebhookDelivery(
                id=uuid.uuid4(),
                subscription_id=s,
                event=event,
                payload={"event": event, "occurred_at": now.isoformat(), "data": data},
                status="pending",
                due_at=now,
            )
            for data in datas
            for s in subs
        ]
    )
    return len(subs) * len(datas)


async def claim_due(
    session: AsyncSession, now: datetime, limit: int = 500, lease: timedelta = timedelta(minutes=2)
) -> list[uuid.UUID]:
    w = WebhookDelivery
    due = (
        select(w.id)
        .where(
            ((w.status == "pending") & (w.due_at <= now))
            | (w.status.in_(("queued", "sending")) & (w.claimed_until < now))
        )
        .order_by(w.due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = await session.execute(
        update(w)
        .where(w.id.in_(due.scalar_subquery()))
        .values(status="queued", claimed_until=now + lease)
        .returning(w.id)
        .execution_options(synchronize_session=False)
    )
    return list(rows.scalars())


async def deliver(session: AsyncSession, cipher: TenantCipher, did: uuid.UUID) -> str:
    """POST one claimed delivery. Idempotent per row: the receiver sees X-Turnout-Delivery."""
    w = WebhookDelivery
    taken = await session.execute(  # of two copies of one delivery, one gets the row
        update(w)
        .where(w.id == did, w.status == "queued")
        .values(
            status="sending",
            attempts=w.attempts + 1,
            claimed_until=clock.now() + timedelta(minutes=2),
        )
        .returning(w.id)
        .execution_options(synchronize_session=False)
    )
    if taken.scalar_one_or_none() is None:
        await session.rollback()
        return "noop"
    await session.commit()
    d = await session.get(WebhookDelivery, did, populate_existing=True)
    sub = await session.get(WebhookSubscription, d.subscription_id)
    secret = cipher.decrypt(sub.secret_enc, "webhook_subscriptions", "secret_enc", sub.id)
    body = orjson.dumps({"id": str(d.id), **d.payload})
    attempts = d.attempts
    await session.commit()  # nothing stays locked while the receiver answers
    code, error = None, ""
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            r = await client.post(
                sub.url,
                content=body,
                headers={
                    "content-type": "application/json",
                    "x-turnout-event": d.event,
                    "x-turnout-delivery": str(d.id),
                    "x-turnout-signature": sign(secret, body),
                },
            )
        code = r.status_code
        ok = 200 <= code < 300
        error = "" if ok else f"answered {code}"
    except Exception as exc:  # a bad URL, a refused connection: a failed attempt, retried
        ok, error = False, f"{type(exc).__name__}: {exc}"[:1000]
    if ok:
        values = {"status": "delivered", "delivered_at": clock.now()}
    elif attempts >= MAX_ATTEMPTS:
        values = {"status": "failed"}
    else:
        backoff = timedelta(seconds=min(15 * 2 ** (attempts - 1), 3600))
        values = {"status": "pending", "due_at": clock.now() + backoff}
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == d.id, WebhookDelivery.status == "sending")
        .values(last_status_code=code, last_error=error, claimed_until=None, **values)
        .execution_options(synchronize_session=False)
    )
    await session.commit()
    return values["status"]


def interview_data(interview) -> dict:
    return {
        "interview_id": global_id("Interview", interview.id),
        "candidate_id": global_id("Candidate", interview.candidate_id),
        "job_id": global_id("Job", interview.job_id),
        "state": interview.state,
        "kind": interview.kind,
        "opens_at": interview.opens_at.isoformat(),
        "closes_at": interview.closes_at.isoformat(),
        "attempt": interview.attempt,
    }


def notification_data(n) -> dict:
    return {
        "notification_id": global_id("Notification", n.id),
        "interview_id": global_id("Interview", n.interview_id),
        "candidate_id": global_id("Candidate", n.candidate_id),
        "channel": n.channel,
        "kind": n.kind,
        "status": n.status,
        "error": n.last_error,
    }
