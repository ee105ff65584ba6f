"""Channel preference: learnt from what a candidate opened and how fast, explained, and
followed by the next messages ("best" in a policy step)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from tests.delivery.conftest import NOON
from tests.delivery.test_graphql import SET
from tests.helpers import gql
from tests.recruiting import api
from turnout.db.session import tenant_session
from turnout.delivery.models import Notification
from turnout.kit.clock import clock

PREF = """query($id: ID!) { candidate(id: $id) { channelPreference { channel score sent opened
  medianMinutesToOpen evidence } } }"""


async def test_unknown_candidate_gets_the_default_order(client, world):
    r = await gql(client, PREF, {"id": world["candidate"]}, token=world["admin"])
    prefs = r.json()["data"]["candidate"]["channelPreference"]
    assert [p["channel"] for p in prefs] == ["sms", "email", "wechat", "push", "voice"]
    assert prefs[0]["evidence"] == "no messages on this channel yet"


async def test_opened_channel_rises_and_best_follows_it(client, world):
    now = clock.now()
    async with tenant_session(world["tenant"].ref) as s:
        rows = (await s.execute(select(Notification))).scalars().all()
        for r in rows:  # history: the SMS went unread, the email was opened in 5 minutes
            if r.channel == "sms":
                values = {"status": "delivered", "sent_at": now - timedelta(days=1)}
            elif r.channel == "email":
                values = {
                    "status": "opened",
                    "sent_at": now - timedelta(days=1),
                    "opened_at": now - timedelta(days=1) + timedelta(minutes=5),
                }
            else:
                continue
            await s.execute(update(Notification).where(Notification.id == r.id).values(**values))
        await s.commit()
    r = await gql(client, PREF, {"id": world["candidate"]}, token=world["admin"])
    prefs = r.json()["data"]["candidate"]["channelPreference"]
    assert prefs[0]["channel"] == "email"
    assert prefs[0] == {
        "channel": "email",
        "score": prefs[0]["score"],
        "sent": 1,
        "opened": 1,
        "medianMinutesToOpen": 5.0,
        "evidence": "opened 1 of 1 message, median 5 min to open",
    }
    sms = next(p for p in prefs if p["channel"] == "sms")
    assert sms["score"] < prefs[0]["score"] and sms["evidence"] == "opened 0 of 1 message"

    # A policy that says "best" reaches this candidate by email now.
    policy = {
        "steps": [{"offsetMinutes": 120, "channels": ["best"]}],
        "quietStart": None,
        "quietEnd": None,
    }
    r = await gql(client, SET, {"p": "", "i": policy}, token=world["admin"])
    assert r.json()["data"]["setReminderPolicy"]["__typename"] == "ReminderPolicyPayload"
    job = await api.job(client, world["admin"], "Porter")
    app = await api.application(client, world["admin"], world["candidate"], job)
    opens = NOON + timedelta(days=5)
    iv = await api.ok(
        client,
        api.SCHEDULE,
        {
            "i": {
                "applicationId": app,
                "kind": "ai_async",
                "opensAt": opens.isoformat(),
                "closesAt": (opens + timedelta(days=1)).isoformat(),
            }
        },
        world["admin"],
        "scheduleInterview",
    )
    r = await gql(
        client,
        '{ interview(id: "' + iv["interview"]["id"] + '") { notifications { channel dueAt } } }',
        token=world["admin"],
    )
    notes = r.json()["data"]["interview"]["notifications"]
    assert [n["channel"] for n in notes] == ["email"]
