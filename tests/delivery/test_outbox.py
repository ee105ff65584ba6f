"""Reminders are outbox rows written with the interview; the scheduler claims them, the
actor sends them through the real channels (sandbox HTTP, SMTP) at most once per key."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from tests.delivery.conftest import NOON
from tests.helpers import gql
from tests.recruiting import api
from turnout.db.session import tenant_session
from turnout.delivery import tasks
from turnout.delivery.models import DeadLetter, Notification
from turnout.kit.clock import clock


async def _rows(tenant) -> list[Notification]:
    async with tenant_session(tenant.ref) as s:
        return list(
            (
                await s.execute(
                    select(Notification).order_by(Notification.due_at, Notification.channel)
                )
            ).scalars()
        )


async def test_scheduling_writes_the_policys_reminders(world):
    rows = await _rows(world["tenant"])
    opens = world["opens"]
    got = [(r.step, r.channel, r.due_at, r.status) for r in rows]
    # Default policy: 2 days before by SMS + email (escalating to voice), 1 hour before by
    # push + WeChat + voice: this candidate has a phone and an email only.
    assert got == [
        (0, "email", opens - timedelta(days=2), "pending"),
        (0, "sms", opens - timedelta(days=2), "pending"),
        (1, "voice", opens - timedelta(hours=1), "pending"),
    ]
    assert rows[0].escalate_channel == "voice" and rows[0].escalate_after_minutes == 60


async def test_cancelling_voids_the_reminders(client, world):
    r = await gql(
        client,
        "mutation($id: ID!) { cancelInterview(id: $id) { __typename } }",
        {"id": world["interview"]},
        token=world["admin"],
    )
    assert r.json()["data"]["cancelInterview"]["__typename"] == "InterviewPayload"
    assert {r.status for r in await _rows(world["tenant"])} == {"void"}


async def test_failed_bulk_schedule_writes_no_reminders(client, world):
    admin = world["admin"]
    job = await api.job(client, admin, "Porter")
    cand = await api.candidate(client, admin, "Wang", "13900000000", "w@example.com")
    app = await api.application(client, admin, cand, job)
    bulk = """mutation($i: [ScheduleInterviewInput!]!) { scheduleInterviews(inputs: $i) {
      __typename } }"""
    window = {
        "kind": "ai_async",
        "opensAt": (NOON + timedelta(days=3)).isoformat(),
        "closesAt": (NOON + timedelta(days=4)).isoformat(),
    }
    r = await gql(
        client,
        bulk,
        {"i": [{"applicationId": app, **window}, {"applicationId": world["app"], **window}]},
        token=admin,
    )
    assert r.json()["data"]["scheduleInterviews"]["__typename"] == "ConflictError"
    assert len(await _rows(world["tenant"])) == 3  # only the first interview's


async def test_tick_sends_through_sms_and_smtp_once(provider, world):
    at = world["opens"] - timedelta(days=2) + timedelta(minutes=1)
    clock.freeze(at)
    assert await tasks.tick(at, inline=True) == 2
    by_channel = {m["channel"]: m for m in provider.messages}
    assert set(by_channel) == {"sms", "email"}
    assert by_channel["sms"]["to"] == "13812345678"
    assert by_channel["email"]["to"] == "liwei@example.com"
    assert "Li Wei" in by_channel["sms"]["body"] and "/r/" in by_channel["sms"]["body"]
    ics = by_channel["email"]["ics"]  # the email carries a calendar invite
    assert "BEGIN:VEVENT" in ics and "METHOD:REQUEST" in ics
    assert f"DTSTART:{world['opens'].strftime('%Y%m%dT%H%M%SZ')}" in ics
    assert "SUMMARY:Interview: ICU Nurse" in ics
    rows = {r.channel: r for r in await _rows(world["tenant"]) if r.step == 0}
    assert rows["sms"].status == rows["email"].status == "sent"
    assert by_channel["sms"]["idempotency_key"] == str(rows["sms"].id)
    # A redelivered message for a sent notification does nothing.
    outcome = await tasks.send_now("acme", str(rows["sms"].id))
    assert outcome.status == "noop"
    assert provider.seen[str(rows["sms"].id)] == 1
    # Nothing else is due yet; the escalations wait an hour.
    assert await tasks.tick(at, inline=True) == 0
    escalations = [r for r in await _rows(world["tenant"]) if r.kind == "escalation"]
    assert [r.channel for r in escalations] == ["voice"]  # one call per step, not per channel


async def test_unopened_step_escalates_once(provider, world):
    at = world["opens"] - timedelta(days=2) + timedelta(minutes=1)
    clock.freeze(at)
    await tasks.tick(at, inline=True)  # SMS and email go; neither is opened
    clock.freeze(at + timedelta(minutes=61))
    await tasks.tick(clock.now(), inline=True)
    (esc,) = [r for r in await _rows(world["tenant"]) if r.kind == "escalation"]
    assert (esc.channel, esc.status) == ("voice", "sent")
    assert [m["channel"] for m in provider.messages].count("voice") == 1


async def test_opening_any_message_of_the_step_stops_the_escalation(provider, world):
    at = world["opens"] - timedelta(days=2) + timedelta(minutes=1)
    clock.freeze(at)
    await tasks.tick(at, inline=True)
    rows = await _rows(world["tenant"])
    email = next(r for r in rows if r.step == 0 and r.channel == "email")
    async with tenant_session(world["tenant"].ref) as s:  # the candidate opened the email
        await s.execute(
            update(Notification)
            .where(Notification.id == email.id)
            .values(status="opened", opened_at=clock.now())
        )
        await s.commit()
    clock.freeze(at + timedelta(minutes=61))
    await tasks.tick(clock.now(), inline=True)
    (esc,) = [r for r in await _rows(world["tenant"]) if r.kind == "escalation"]
    assert esc.status == "skipped" and esc.last_error == "a reminder of this step was opened"
    assert [m["channel"] for m in provider.messages].count("voice") == 0


async def test_confirmed_interviews_skip_not_confirmed_steps(client, world):
    async with tenant_session(world["tenant"].ref) as s:
        await s.execute(update(Notification).values(condition="not_confirmed"))
        await s.commit()
    r = await gql(
        client, api.TRANSITION, {"id": world["interview"], "s": "confirmed"}, token=world["admin"]
    )
    assert r.json()["data"]["transitionInterview"]["interview"]["state"] == "confirmed"
    clock.freeze(world["opens"] - timedelta(minutes=30))
    await tasks.tick(clock.now(), inline=True)
    assert {r.status for r in await _rows(world["tenant"])} == {"skipped"}


async def test_expired_claims_are_claimed_again(world):
    at = world["opens"] - timedelta(days=2)
    claimed = await tasks.claim(at)
    assert len(claimed) == 2
    assert await tasks.claim(at) == []  # claimed and leased: nobody else takes them
    again = await tasks.claim(at + timedelta(minutes=3))  # the worker died; lease ran out
    assert sorted(again) == sorted(claimed)


async def test_transient_failures_retry_then_fail_over_to_the_next_channel(client, provider, world):
    r = await gql(
        client,
        """mutation($id: ID!) { updateCandidate(id: $id,
        input: {wechatOpenId: "oWX-1"}) { __typename } }""",
        {"id": world["candidate"]},
        token=world["admin"],
    )
    assert r.json()["data"]["updateCandidate"]["__typename"] == "CandidatePayload"
    provider.fail_rate = 1.0  # the HTTP provider answers 503 to everything
    at = world["opens"] - timedelta(days=2)
    clock.freeze(at)
    for _ in range(5):
        await tasks.tick(at, inline=True)
        async with tenant_session(world["tenant"].ref) as s:  # make retries due at once
            await s.execute(
                update(Notification)
                .where(Notification.status == "pending", Notification.step == 0)
                .values(due_at=at)
            )
            await s.commit()
    rows = await _rows(world["tenant"])
    sms = next(r for r in rows if r.step == 0 and r.channel == "sms" and r.kind == "reminder")
    assert sms.status == "failed" and sms.attempts == 5 and "503" in sms.last_error
    async with tenant_session(world["tenant"].ref) as s:
        dead = (await s.execute(select(DeadLetter))).scalars().all()
    assert [d.notification_id for d in dead] == [sms.id]
    # Step 0 already used SMS and email (and voice, as the email's escalation): the
    # candidate's next channel is WeChat.
    fallback = [r for r in rows if r.kind == "fallback"]
    assert [(r.channel, r.parent_id) for r in fallback] == [("wechat", sms.id)]
    assert any(m["channel"] == "email" for m in provider.messages)  # SMTP was fine


async def test_two_copies_of_one_message_send_once(provider, world):
    """A re-delivered broker message racing the first copy: one provider call, one
    escalation, no dead letter."""
    import asyncio

    provider.delay = 0.3  # the provider is slow: the copies overlap
    at = world["opens"] - timedelta(days=2)
    clock.freeze(at)
    claimed = await tasks.claim(at)
    sms = next(r for r in await _rows(world["tenant"]) if r.channel == "sms" and r.step == 0)
    assert ("acme", str(sms.id)) in claimed
    outcomes = await asyncio.gather(*(tasks.send_now("acme", str(sms.id)) for _ in range(3)))
    assert sorted(o.status for o in outcomes) == ["noop", "noop", "sent"]
    assert provider.seen[str(sms.id)] == 1
    escalations = [r for r in await _rows(world["tenant"]) if r.kind == "escalation"]
    assert len(escalations) == 1


async def test_claims_stop_at_the_in_flight_cap(world):
    from turnout.delivery import service

    at = world["opens"]
    async with tenant_session(world["tenant"].ref) as s:
        first = await service.claim_due(s, at, max_in_flight=1)
        second = await service.claim_due(s, at, max_in_flight=1)
        await s.commit()
    assert len(first) == 1 and second == []  # one waits on the workers: no more for now
