"""The delivery actor and the scheduler that feeds it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from datetime import datetime, timedelta

from ..broker import broker_from_url, run_async, task, use_broker
from ..config import Settings, get_settings
from ..crypto.fields import cipher_for
from ..db.session import public_session, tenant_session
from ..evidence import tasks as evidence_tasks
from ..kit.clock import clock
from ..tenancy.models import Tenant
from ..tenancy.service import list_tenants, tenant_by_slug
from . import links, receipts, sending, service, webhooks
from .channels import Channel, HttpProvider, SmtpEmail

log = logging.getLogger(__name__)
# Notifications per `delivery.send_batch` message: enough to share the loads and the
# providers' connections, few enough that a batch finishes well inside SEND_LEASE.
BATCH = 50
CLAIM_ROUNDS = 10  # claims of `limit` rows per scheduler pass while a backlog is due


def channels_from(settings: Settings) -> dict[str, Channel]:
    out: dict[str, Channel] = {}
    if settings.smtp_url:
        hostport = settings.smtp_url.split("://", 1)[-1]
        host, _, port = hostport.partition(":")
        out["email"] = SmtpEmail(host, int(port or 25), settings.email_sender)
    if settings.provider_url:
        for name in ("sms", "voice", "wechat", "push"):
            out[name] = HttpProvider(settings.provider_url, name, settings.provider_token)
    return out


async def send_many(
    tenant_slug: str, notification_ids: list[str], settings: Settings | None = None
) -> dict[uuid.UUID, sending.Outcome]:
    """Send a batch of one tenant's notifications. The tenant and its providers are read
    afresh for every batch, so a suspension or a new provider takes effect at once."""
    settings = settings or get_settings()
    async with public_session() as s:
        tenant = await tenant_by_slug(s, tenant_slug)
    if not tenant.active:  # suspended: the rows wait (their lease runs out) until it is back
        return {uuid.UUID(i): sending.Outcome("noop", "tenant suspended") for i in notification_ids}
    async with tenant_session(tenant.ref) as s:
        cipher = await cipher_for(s, tenant.id)
        channels = {
            **channels_from(settings),
            **await service.tenant_channels(s, cipher, settings.email_sender),
        }
        return await sending.deliver_many(
            s,
            cipher,
            [uuid.UUID(i) for i in notification_ids],
            channels,
            lambda n: f"{settings.public_url}/r/{links.token(tenant.slug, n.id)}",
            tenant.name,
            callback=f"{settings.public_url}/webhooks/providers/{tenant.slug}",
        )


async def send_now(
    tenant_slug: str, notification_id: str, settings: Settings | None = None
) -> sending.Outcome:
    out = await send_many(tenant_slug, [notification_id], settings)
    return out[uuid.UUID(notification_id)]


async def webhook_now(tenant_slug: str, delivery_id: str) -> str:
    async with public_session() as s:
        tenant = await tenant_by_slug(s, tenant_slug)
    async with tenant_session(tenant.ref) as s:
        cipher = await cipher_for(s, tenant.id)
        return await webhooks.deliver(s, cipher, uuid.UUID(delivery_id))


@task("delivery.webhook", max_retries=0)  # retries are rows too
def webhook(tenant_slug: str, delivery_id: str) -> None:
    run_async(webhook_now(tenant_slug, delivery_id))


@task("delivery.send", max_retries=0)  # retries are the outbox's: rows, with backoff
def send(tenant_slug: str, notification_id: str) -> None:
    run_async(send_now(tenant_slug, notification_id))


@task("delivery.send_batch", max_retries=0)
def send_batch(tenant_slug: str, notification_ids: list[str]) -> None:
    """What the scheduler enqueues: up to BATCH notifications of one tenant, sent together."""
    run_async(send_many(tenant_slug, notification_ids))


async def claim(
    at: datetime | None = None,
    limit: int = 1000,
    lease: timedelta = service.LEASE,
    with_receipts: bool = True,
) -> list[tuple[str, str]]:
    """Claim what is due in every active tenant: (tenant slug, id) pairs, where webhook
    deliveries' ids read "webhook:<id>". First, unless told not to, apply each tenant's
    receipt inbox."""
    now = at or clock.now()
    async with public_session() as s:
        tenants: list[Tenant] = [t for t in await list_tenants(s) if t.active]
    claimed = []
    for t in tenants:
        try:  # receipts first: a read one stops its step's escalation in this very pass
            if with_receipts:
                async with tenant_session(t.ref) as s:
                    await receipts.apply_inbox(s, await cipher_for(s, t.id))
                    await s.commit()
        except Exception:  # they wait in the inbox; the reminders must still go out
            log.exception("applying receipts for tenant %s failed", t.slug)
        try:
            async with tenant_session(t.ref) as s:
                await sending.give_up_stuck(s, await cipher_for(s, t.id), now)
                ids = await service.claim_due(s, now, limit, lease)
                hooks = await webhooks.claim_due(s, now, limit, lease)
                await s.commit()
        except Exception:  # one broken tenant must not stop the others' reminders
            log.exception("claiming for tenant %s failed", t.slug)
            continue
        claimed += [(t.slug, str(i)) for i in ids]
        claimed += [(t.slug, f"webhook:{i}") for i in hooks]
    return claimed


async def tick(
    at: datetime | None = None,
    inline: bool = False,
    limit: int = 1000,
    concurrency: int = 16,
    lease: timedelta = service.LEASE,
) -> int:
    """One scheduler pass. With a broker the workers send; `inline` sends here and now
    (no broker configured: the embedded default, `scheduler tick` in a demo)."""
    claimed = await claim(at, limit, lease)
    if not inline:
        total = 0
        for _ in range(CLAIM_ROUNDS):
            hooks, batches = _split(claimed)
            for slug, hid in hooks:
                webhook.send(slug, hid)
            for slug, ids in batches:
                send_batch.send(slug, ids)
            total += len(claimed)
            if len(claimed) < limit:  # nothing more is due (or the in-flight cap is reached)
                break
            # A backlog (10,000 due at 9:00): claim on at once, not a pass from now.
            claimed = await claim(at, limit, lease, with_receipts=False)
        return total
    hooks, batches = _split(claimed)
    gate = asyncio.Semaphore(concurrency)

    async def one(slug: str, job) -> None:
        async with gate:
            try:
                await job
            except Exception:  # the rows stay queued; their lease runs out and they are retried
                log.exception("sending for %s failed", slug)

    await asyncio.gather(
        *(one(slug, webhook_now(slug, hid)) for slug, hid in hooks),
        *(one(slug, send_many(slug, ids)) for slug, ids in batches),
    )
    return len(claimed)


def _split(
    claimed: list[tuple[str, str]],
) -> tuple[list[tuple[str, str]], list[tuple[str, list[str]]]]:
    """Webhook deliveries one by one; a tenant's notifications in batches of at most BATCH."""
    hooks, per_tenant = [], {}
    for slug, nid in claimed:
        if nid.startswith("webhook:"):
            hooks.append((slug, nid.removeprefix("webhook:")))
        else:
            per_tenant.setdefault(slug, []).append(nid)
    batches = [
        (slug, ids[i : i + BATCH])
        for slug, ids in per_tenant.items()
        for i in range(0, len(ids), BATCH)
    ]
    return hooks, batches


async def run_scheduler(stop: asyncio.Event, settings: Settings, interval: float = 1.0) -> None:
    """The loop `turnout serve` runs: passes every `interval` s until `stop` is set."""
    inline = settings.broker_url is None
    if not inline:
        use_broker(broker_from_url(settings.broker_url))
    seal_every = timedelta(minutes=settings.evidence_seal_minutes)
    next_seal = 0.0
    while not stop.is_set():
        try:
            await tick(inline=inline)
        except Exception:  # a bad pass must not end the loop; the rows wait for the next
            log.exception("scheduler pass failed")
        if time.monotonic() >= next_seal:  # checking each tenant's chains: once a minute
            next_seal = time.monotonic() + 60
            try:
                await evidence_tasks.seal_due(seal_every)
            except Exception:
                log.exception("sealing the evidence failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
