"""The candidate portal through HTTP: the page in both languages, its actions, bad, foreign,
expired and cancelled links, rate limits, and the evidence every visit and action leaves."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import select

from tests.helpers import gql
from tests.portal.conftest import (
    FOLLOW_UPS,
    TEMPLATE,
    evidence_kinds,
    interview,
    make_world,
    rows,
    set_vendor,
)
from tests.recruiting import api
from turnout.db.session import tenant_session
from turnout.delivery import links
from turnout.delivery.models import Notification, WebhookDelivery
from turnout.kit.clock import clock
from turnout.portal import service
from turnout.portal.models import FollowUp


async def test_the_page_in_english_shows_the_interview_in_the_candidates_time(client, world):
    r = await client.get(world["link"])
    assert r.status_code == 200, r.text
    local = world["opens"].astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
    for text in ("Your interview", "ICU Nurse", "Acme", local, "Asia/Shanghai", "How to prepare"):
        assert text in r.text, text
    assert "I will attend" in r.text and "Report a technical problem" in r.text
    assert "You can start from" in r.text  # four days early: no start button yet
    assert f'action="{world["link"]}/confirm?lang=en"' in r.text
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["cache-control"] == "no-store"
    zh = await client.get(world["link"] + "?lang=zh-CN")
    assert zh.status_code == 200 and "您的面试" in zh.text and "确认参加" in zh.text
    assert await evidence_kinds(world["tenant"], world["candidate_pk"]) == [
        "portal.visited",
        "portal.visited",
    ]


async def test_a_chinese_candidate_gets_the_page_in_chinese(client):
    w = await make_world(client, "zhong", locale="zh-CN")
    r = await client.get(w["link"])
    assert r.status_code == 200 and '<html lang="zh-CN">' in r.text
    assert "面试准备" in r.text and "报告技术问题" in r.text and "English" in r.text
    en = await client.get(w["link"] + "?lang=en")
    assert "Your interview" in en.text


async def test_confirm_moves_the_interview_and_a_second_click_changes_nothing(client, world):
    r = await client.post(world["link"] + "/confirm")
    assert r.status_code == 303
    assert r.headers["location"] == world["link"] + "?lang=en&done=confirmed"
    assert (await interview(client, world["admin"], world["interview"]))["state"] == "confirmed"
    page = await client.get(r.headers["location"])
    assert "your attendance is confirmed" in page.text and "I will attend" not in page.text
    again = await client.post(world["link"] + "/confirm")
    assert again.status_code == 303
    assert await evidence_kinds(world["tenant"], world["candidate_pk"]) == [
        "portal.confirmed",
        "portal.confirmed",
    ]  # the page after an action is not a second "visit"


async def test_a_form_from_another_site_is_refused(client, world):
    r = await client.post(world["link"] + "/confirm", headers={"origin": "https://evil.example"})
    assert r.status_code == 403 and "another site" in r.text
    assert (await interview(client, world["admin"], world["interview"]))["state"] == "scheduled"
    same = await client.post(world["link"] + "/confirm", headers={"origin": "http://localhost"})
    assert same.status_code == 303


async def test_start_hands_over_to_the_vendor_only_within_the_window(client, world):
    early = await client.post(world["link"] + "/start")
    assert early.status_code == 409 and "You can start from" in early.text
    soon = world["opens"] - timedelta(minutes=10)  # shortly before: allowed
    clock.freeze(soon)
    none = await client.post(world["link"] + "/start")
    assert none.status_code == 503 and "cannot be started online" in none.text
    clock.unfreeze()  # the admin's token is short-lived
    assert (await set_vendor(client, world["admin"]))["__typename"] == "InterviewVendorPayload"
    clock.freeze(soon)
    page = await client.get(world["link"])
    assert "Start the interview" in page.text
    r = await client.post(world["link"] + "/start")
    assert r.status_code == 303
    assert r.headers["referrer-policy"] == "no-referrer"
    clock.freeze(world["opens"] + timedelta(hours=49))
    late = await client.post(world["link"] + "/start")
    assert late.status_code == 409 and "window has closed" in late.text
    clock.unfreeze()
    iv = await interview(client, world["admin"], world["interview"])
    ref = iv["vendorRef"]
    assert ref and r.headers["location"] == TEMPLATE.format(
        vendor_ref=ref, interview_id=world["interview"].replace("=", "%3D"), locale="en"
    )
    # A click is not an interview: the vendor's "started" event moves the state.
    assert iv["state"] == "scheduled"
    assert await evidence_kinds(world["tenant"], world["candidate_pk"]) == [
        "portal.visited",
        "portal.started",
    ]


async def test_reschedule_and_problem_reach_the_recruiters_queue(client, world):
    sub = await gql(
        client,
        'mutation { createWebhookSubscription(url: "http://127.0.0.1:9/h", '
        'events: ["followup.created"]) { __typename } }',
        token=world["admin"],
    )
    assert sub.json()["data"]["createWebhookSubscription"]["__typename"] != "InvalidInputError"
    r = await client.post(world["link"] + "/reschedule", data={"note": "Tuesday morning"})
    assert r.status_code == 303 and r.headers["location"].endswith("done=reschedule")
    blank = await client.post(world["link"] + "/problem", data={"description": "  "})
    assert blank.status_code == 400 and "describe the problem" in blank.text
    p = await client.post(world["link"] + "/problem", data={"description": "Camera is black"})
    assert p.status_code == 303
    again = await client.post(world["link"] + "/problem", data={"description": "Still black"})
    assert again.status_code == 303
    q = await gql(client, FOLLOW_UPS, {"s": "open"}, token=world["admin"])
    body = q.json()
    assert not body.get("errors"), body
    nodes = [e["node"] for e in body["data"]["followUps"]["edges"]]
    assert [(n["kind"], n["urgent"]) for n in nodes] == [
        ("technical_problem", True),  # urgent first
        ("reschedule_request", False),
    ]
    assert nodes[0]["description"] == "Camera is black\n---\nStill black"  # one per interview
    assert nodes[0]["interview"]["job"]["title"] == "ICU Nurse"
    assert nodes[0]["interview"]["candidate"]["name"] == "Li Wei"
    assert (await interview(client, world["admin"], world["interview"]))["state"] == "scheduled"
    hooks = await rows(world["tenant"], WebhookDelivery)
    assert sorted(h.payload["data"]["kind"] for h in hooks) == [
        "reschedule_request",
        "technical_problem",
    ]
    assert await evidence_kinds(world["tenant"], world["candidate_pk"]) == [
        "portal.reschedule_requested",
        "portal.problem_reported",
        "portal.problem_reported",
    ]


async def test_bad_and_foreign_links_get_a_clear_page_and_are_logged(client, world, caplog):
    other = await make_world(client, "beta")
    secret = world["link"].split(".", 1)[1]
    foreign_secret = other["link"].split(".", 1)[1]
    for path in (
        "/i/garbage",
        "/i/acme.short",
        "/i/acme." + "A" * 43,  # well-formed, no such interview
        "/i/nosuch." + secret,  # no such tenant
        "/i/acme." + foreign_secret,  # beta's interview under acme's name
    ):
        r = await client.get(path)
        assert r.status_code == 404 and "This link is not valid" in r.text, path
        assert "Traceback" not in r.text
    assert "10.1.2.3" in caplog.text
    assert secret not in caplog.text and foreign_secret not in caplog.text
    post = await client.post("/i/acme." + "A" * 43 + "/confirm")
    assert post.status_code == 404
    assert (await client.post(world["link"] + "/explode")).status_code == 404
    assert (await client.get(other["link"])).status_code == 200  # under its own tenant


async def test_expired_and_cancelled_links_are_gone(client, world, caplog):
    clock.freeze(world["opens"] + timedelta(days=4, minutes=1))  # closes + 2 days, and more
    r = await client.get(world["link"])
    assert r.status_code == 410 and "expired" in r.text
    assert (await client.post(world["link"] + "/confirm")).status_code == 410
    assert "expired link" in caplog.text
    clock.unfreeze()
    cancel = await gql(
        client,
        api.TRANSITION,
        {"id": world["interview"], "s": "cancelled"},
        token=world["admin"],
    )
    assert cancel.json()["data"]["transitionInterview"]["interview"]["state"] == "cancelled"
    gone = await client.get(world["link"])
    assert gone.status_code == 410 and "cancelled" in gone.text
    assert (
        await client.post(world["link"] + "/problem", data={"description": "x"})
    ).status_code == 410
    assert await rows(world["tenant"], FollowUp) == []


async def test_rate_limits_per_link_and_per_address(app, world):
    transport = httpx.ASGITransport(app=app, client=("10.5.5.5", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as c:
        for _ in range(service.PER_TOKEN):
            assert (await c.get(world["link"] + "?done=confirmed")).status_code == 200
        r = await c.get(world["link"])
        assert r.status_code == 429 and "Too many requests" in r.text
        assert 1 <= int(r.headers["retry-after"]) <= 61
        clock.freeze(clock.now() + timedelta(seconds=61))
        assert (await c.get(world["link"] + "?done=confirmed")).status_code == 200
    transport = httpx.ASGITransport(app=app, client=("10.6.6.6", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as c:
        for n in range(service.PER_ADDRESS):  # guessing links of one tenant
            assert (await c.get(f"/i/acme.{n:0>43}")).status_code == 404
        assert (await c.get(world["link"])).status_code == 429  # even a good one, from there
    transport = httpx.ASGITransport(app=app, client=("10.6.6.7", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as c:
        for n in range(service.PER_ADDRESS):  # links of no tenant: counted in the process
            assert (await c.get(f"/i/x{n}")).status_code == 404
        assert (await c.get("/i/x")).status_code == 429


async def test_the_tracked_link_records_the_open_then_opens_the_portal(client, world):
    async with tenant_session(world["tenant"].ref) as s:
        n = (await s.execute(select(Notification).limit(1))).scalar_one()
        n.status = "sent"  # as if the scheduler had sent it: only sent messages get opened
        await s.commit()
    r = await client.get(f"/r/{links.token('acme', n.id)}")
    assert r.status_code == 303 and r.headers["location"] == world["link"]
    async with tenant_session(world["tenant"].ref) as s:
        assert (await s.get(Notification, n.id)).opened_at is not None
    assert re.fullmatch(r"/i/acme\.[A-Za-z0-9_-]{43}", world["link"])
    page = await client.get(r.headers["location"])
    assert page.status_code == 200 and "ICU Nurse" in page.text
