"""The batched send: a fixed number of statements per batch, receipts that overtake the
provider's answer, and bounces reported after the provider accepted a message."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import orjson
from sqlalchemy import event, select, update

from tests.helpers import gql
from turnout.config import get_settings
from turnout.crypto.fields import cipher_for
from turnout.db.engine import db
from turnout.db.session import tenant_session
from turnout.delivery import receipts, tasks
from turnout.delivery.models import DeadLetter, Notification
from turnout.delivery.signing import sign
from turnout.demo_recruiting import ai_interviews
from turnout.evidence.models import EvidenceEvent
from turnout.kit.clock import clock
from turnout.recruiting import scheduling
from turnout.recruiting import service as recruiting


async def _more_interviews(tenant, n: int, opens) -> None:
    async with tenant_session(tenant.ref) as s:
        await ai_interviews(s, await cipher_for(s, tenant.id), n, opens, "test")
        await s.commit()


async def _rows(tenant) -> list[Notification]:
    async with tenant_session(tenant.ref) as s:
        return list((await s.execute(select(Notification))).scalars())


async def _send_counting(slug: str, ids: list[str]) -> tuple[dict, int]:
    seen: list[str] = []

    def count(conn, cursor, statement, *args):
        seen.append(statement)

    engine = db.engine().sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        out = await tasks.send_many(slug, ids)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return out, len(seen)


async def test_a_batch_costs_the_same_statements_for_3_as_for_40(provider, world):
    tenant = world["tenant"]
    await _more_interviews(tenant, 43, world["opens"])
    at = world["opens"] - timedelta(days=2)
    clock.freeze(at)
    claimed = [nid for _, nid in await tasks.claim(at)]
    sms = {str(r.id) for r in await _rows(tenant) if r.channel == "sms" and r.status == "queued"}
    ids = [i for i in claimed if i in sms]
    assert len(ids) == 44  # the world's candidate and 43 more, step 0 by SMS
    await tasks.send_many("acme", ids[:1])  # warm: key cache, provider connection
    small, small_count = await _send_counting("acme", ids[1:4])
    big, big_count = await _send_counting("acme", ids[4:44])
    assert {o.status for o in [*small.values(), *big.values()]} == {"sent"}
    assert len(big) == 40
    assert small_count == big_count, (small_count, big_count)
    sent = [r for r in await _rows(tenant) if r.channel == "sms" and r.status == "sent"]
    assert len(sent) == 44 and all(r.sent_at == at and r.provider_ref for r in sent)
    assert all(provider.seen[i] == 1 for i in ids)
    # SMS reminders escalate (the default policy): one escalation row per interview's step
    escalations = [r for r in await _rows(tenant) if r.kind == "escalation"]
    assert len(escalations) == 44
    again = await tasks.send_many("acme", ids[4:44])  # a redelivered batch does nothing
    assert {o.status for o in again.values()} == {"noop"}
    assert all(provider.seen[i] == 1 for i in ids)


async def test_a_receipt_that_overtakes_the_providers_answer_keeps_what_we_sent(provider, world):
    tenant = world["tenant"]
    provider.delay = 0.5  # the provider answers slowly; its receipt comes first
    at = world["opens"] - timedelta(days=2)
    clock.freeze(at)
    await tasks.claim(at)
    sms = next(r for r in await _rows(tenant) if r.channel == "sms" and r.step == 0)
    sending = asyncio.create_task(tasks.send_many("acme", [str(sms.id)]))
    for _ in range(100):
        await asyncio.sleep(0.02)
        if provider.seen[str(sms.id)]:
            break
    async with tenant_session(tenant.ref) as s:
        assert await receipts.record_status(s, await cipher_for(s, tenant.id), sms.id, "delivered")
        await s.commit()
    out = await sending
    assert out[sms.id].status == "sent"
    row = next(r for r in await _rows(tenant) if r.id == sms.id)
    assert row.status == "delivered" and row.sent_at == at and row.provider_ref
    assert [r.parent_id for r in await _rows(tenant) if r.kind == "escalation"] == [sms.id]


async def test_a_bounce_after_acceptance_is_a_dead_letter_and_falls_back(client, provider, world):
    r = await gql(
        client,
        """mutation($id: ID!) { updateCandidate(id: $id,
        input: {wechatOpenId: "oWX-1"}) { __typename } }""",
        {"id": world["candidate"]},
        token=world["admin"],
    )
    assert r.json()["data"]["updateCandidate"]["__typename"] == "CandidatePayload"
    tenant = world["tenant"]
    at = world["opens"] - timedelta(days=2)
    clock.freeze(at)
    await tasks.tick(at, inline=True)
    sms = next(r for r in await _rows(tenant) if r.channel == "sms" and r.step == 0)
    assert sms.status == "sent"
    body = orjson.dumps({"idempotency_key": str(sms.id), "status": "bounced"})
    secret = get_settings().provider_webhook_secret
    posted = await client.post(
        "/webhooks/providers/acme/sms",
        content=body,
        headers={"content-type": "application/json", "x-turnout-signature": sign(secret, body)},
    )
    assert posted.json() == {"ok": True, "queued": True}
    await tasks.tick(at, inline=True)  # applies the bounce, then sends the fallback
    rows = await _rows(tenant)
    assert next(r for r in rows if r.id == sms.id).status == "bounced"
    async with tenant_session(tenant.ref) as s:
        dead = (await s.execute(select(DeadLetter))).scalars().all()
    assert [(d.notification_id, d.error) for d in dead] == [(sms.id, "provider reported bounced")]
    fallback = [(r.channel, r.parent_id) for r in rows if r.kind == "fallback"]
    assert fallback == [("wechat", sms.id)]  # SMS, email and voice were used for step 0
    assert any(m["channel"] == "wechat" for m in provider.messages)


async def test_a_message_that_cannot_be_made_fails_alone(provider, world):
    """A template that breaks for one candidate (a one-word name) fails that row only: the
    rest of the batch goes out, and the broken one is a dead letter with its reason."""
    from turnout.delivery.templates import set_template

    tenant = world["tenant"]
    async with tenant_session(tenant.ref) as s:
        await set_template(s, "short", "en", "", "Hi {{ name.split()[1].title() }}: {{ link }}")
        cipher = await cipher_for(s, tenant.id)
        job = await recruiting.create_job(s, recruiting.JobFields(title="Porter", status="open"))
        solo = await recruiting.create_candidate(
            s, cipher, recruiting.CandidateFields(name="Madonna", phone="13900000001")
        )
        app = await recruiting.apply(s, solo.id, job.id, 50, "test")
        opens = world["opens"]
        await scheduling.schedule(
            s,
            cipher,
            scheduling.InterviewRequest(app.id, "ai_async", opens, opens + timedelta(days=2)),
            "test",
        )
        await s.commit()
    at = world["opens"] - timedelta(days=2)
    clock.freeze(at)
    await tasks.claim(at)
    sms = [r for r in await _rows(tenant) if r.channel == "sms" and r.status == "queued"]
    assert len(sms) == 2
    out = await tasks.send_many("acme", [str(r.id) for r in sms])
    by_cand = {r.candidate_id: out[r.id] for r in sms}
    assert by_cand[solo.id].status == "failed"
    assert "cannot make the message" in by_cand[solo.id].detail
    assert [o.status for c, o in by_cand.items() if c != solo.id] == ["sent"]
    assert [m["body"].split(":")[0] for m in provider.messages] == ["Hi Wei"]
    async with tenant_session(tenant.ref) as s:
        dead = (await s.execute(select(DeadLetter))).scalars().all()
    assert len(dead) == 1 and "UndefinedError" in dead[0].error


async def test_a_row_whose_workers_keep_dying_gives_up_like_any_failure(provider, world):
    tenant = world["tenant"]
    at = world["opens"] - timedelta(days=2)
    clock.freeze(at)
    await tasks.claim(at)
    sms = next(r for r in await _rows(tenant) if r.channel == "sms" and r.step == 0)
    async with tenant_session(tenant.ref) as s:  # five takes, the last worker died mid-send
        await s.execute(
            update(Notification)
            .where(Notification.id == sms.id)
            .values(status="sending", attempts=5, claimed_until=at + timedelta(seconds=30))
        )
        await s.commit()
    later = at + timedelta(minutes=1)
    assert str(sms.id) not in [i for _, i in await tasks.claim(later)]
    rows = await _rows(tenant)
    row = next(r for r in rows if r.id == sms.id)
    assert row.status == "failed" and row.last_error.startswith("gave up")
    assert [r.parent_id for r in rows if r.kind == "fallback"] == [sms.id]
    async with tenant_session(tenant.ref) as s:
        dead = (await s.execute(select(DeadLetter))).scalars().all()
        failed = (
            (
                await s.execute(
                    select(EvidenceEvent).where(EvidenceEvent.kind == "notification.failed")
                )
            )
            .scalars()
            .all()
        )
    assert [d.notification_id for d in dead] == [sms.id]
    assert [e.data["notification_id"] for e in failed] == [str(sms.id)]


async def test_receipts_are_applied_in_bulk(provider, world):
    """A burst of callbacks: each one INSERT when it arrives; a pass applies 3 or 40 with
    the same statements, each becoming evidence in order."""
    from turnout.delivery.receipts import apply_inbox, queue_status

    tenant = world["tenant"]
    await _more_interviews(tenant, 42, world["opens"])
    at = world["opens"] - timedelta(days=2)
    clock.freeze(at)
    await tasks.claim(at)
    sms = [r.id for r in await _rows(tenant) if r.channel == "sms" and r.status == "queued"]
    await tasks.send_many("acme", [str(i) for i in sms])
    counts = []
    for ids in (sms[:3], sms[3:43]):
        async with tenant_session(tenant.ref) as s:
            for i in ids:
                await queue_status(s, i, "delivered")
            await queue_status(s, ids[0], "read")
            await s.commit()
        seen: list[str] = []

        def count(conn, cursor, statement, *args, seen=seen):
            seen.append(statement)

        engine = db.engine().sync_engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            async with tenant_session(tenant.ref) as s:
                assert await apply_inbox(s, await cipher_for(s, tenant.id)) == len(ids) + 1
                await s.commit()
        finally:
            event.remove(engine, "before_cursor_execute", count)
        counts.append(len(seen))
    assert counts[0] == counts[1], counts
    rows = {r.id: r for r in await _rows(tenant)}
    assert all(rows[i].status == "delivered" for i in sms[1:3] + sms[4:43])
    assert rows[sms[0]].status == rows[sms[3]].status == "opened"
    async with tenant_session(tenant.ref) as s:
        kinds = [
            e.kind
            for e in (
                await s.execute(
                    select(EvidenceEvent)
                    .where(EvidenceEvent.candidate_id == rows[sms[0]].candidate_id)
                    .order_by(EvidenceEvent.seq)
                )
            ).scalars()
        ]
    assert kinds[-2:] == ["notification.delivered", "notification.opened"]


async def test_a_backlog_is_claimed_in_one_pass(world):
    """With a broker, a pass claims on while whole pages come back (10,000 due at 9:00 are
    not left for later passes), up to the in-flight cap."""
    import dramatiq
    from dramatiq.brokers.stub import StubBroker

    from turnout.broker import use_broker

    tenant = world["tenant"]
    await _more_interviews(tenant, 34, world["opens"])
    at = world["opens"] - timedelta(days=2)
    clock.freeze(at)
    before = dramatiq.get_broker()
    broker = use_broker(StubBroker())
    try:
        queued = await tasks.tick(at, inline=False, limit=10)
        messages = [dramatiq.Message.decode(m) for m in broker.queues["default"].queue]
    finally:
        use_broker(before)
    rows = await _rows(tenant)
    due = [r for r in rows if r.step == 0 and r.kind == "reminder"]
    assert queued == len(due) == 34 + 2  # 34 SMS, the world's SMS and email
    assert all(r.status == "queued" for r in due)
    assert {m.actor_name for m in messages} == {"delivery.send_batch"}
    sent_ids = [i for m in messages for i in m.args[1]]
    assert sorted(sent_ids) == sorted(str(r.id) for r in due)
