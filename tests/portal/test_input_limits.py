"""What the portal's inputs cannot carry: NUL characters (PostgreSQL's jsonb refuses them),
a vendor_ref two interviews claim at once, and bodies larger than the cap even when they come
without a Content-Length."""

from __future__ import annotations

import asyncio

import orjson
from sqlalchemy import func, select, text

from tests.helpers import gql
from tests.portal.conftest import (
    VENDOR_SECRET,
    event,
    interview,
    post_event,
    rows,
    schedule,
    set_vendor,
)
from tests.portal.test_vendor import RECORD, _integrator
from tests.recruiting import api
from turnout.db.session import public_session, tenant_session
from turnout.delivery.signing import sign
from turnout.graphql.relay import from_global
from turnout.kit.errors import Conflict
from turnout.portal import routes, vendor
from turnout.portal.models import FollowUp, VendorEvent
from turnout.recruiting.models import Interview

# --- NUL characters -------------------------------------------------------------------


async def test_a_signed_event_with_a_nul_character_is_a_400_naming_the_field(client, world):
    await set_vendor(client, world["admin"])
    iid = world["interview"]
    nested = event(iid, "started", "n1", details={"steps": ["ok", "camera\u0000off"]})
    r = await post_event(client, "acme", nested)
    assert r.status_code == 400, r.text
    assert [p["field"] for p in r.json()["problems"]] == ["details.steps[1]"]
    assert "NUL" in r.json()["problems"][0]["message"]
    key = await post_event(client, "acme", event(iid, "started", "n2", meta={"a\u0000": 1}))
    assert key.status_code == 400, key.text
    assert [p["field"] for p in key.json()["problems"]] == ["meta"]
    top = await post_event(client, "acme", event(iid, "started", "n3\u0000"))
    assert top.status_code == 400 and top.json()["problems"][0]["field"] == "event_id"
    assert await rows(world["tenant"], VendorEvent) == []
    assert (await interview(client, world["admin"], iid))["state"] == "scheduled"
    fine = await post_event(client, "acme", event(iid, "started", "n4", details={"x": "y"}))
    assert fine.status_code == 200, fine.text


async def test_a_graphql_event_with_a_nul_character_is_invalid_input(client, world):
    token = await _integrator(client, "acme", ["interviews:write"])
    inp = {
        "eventId": "g1",
        "type": "started",
        "interviewId": world["interview"] + "\u0000",
        "occurredAt": "2030-01-01T10:00:00Z",
    }
    r = await gql(client, RECORD, {"i": inp}, token=token)
    assert r.status_code == 200, r.text
    res = r.json()["data"]["recordInterviewVendorEvent"]
    assert res["__typename"] == "InvalidInputError", res
    assert res["errors"][0]["path"] == ["input", "interviewId"]
    assert "NUL" in res["errors"][0]["message"]
    assert await rows(world["tenant"], VendorEvent) == []


async def test_a_portal_form_with_a_nul_character_is_refused(client, world):
    r = await client.post(world["link"] + "/problem", data={"description": "black\u0000screen"})
    assert r.status_code == 400 and "NUL" in r.text
    assert await rows(world["tenant"], FollowUp) == []


# --- two interviews claiming one vendor_ref -------------------------------------------


async def _second_interview(client, world) -> str:
    admin = world["admin"]
    job = await api.job(client, admin, "Ward Clerk")
    cand = await api.candidate(client, admin, "Zhang San", "13912345678", "zs@example.com")
    app = await api.application(client, admin, cand, job)
    return await schedule(client, admin, app, world["opens"])


async def _blocked(seconds: float = 10.0) -> bool:
    """True once some backend waits for a lock (the second claim, on the unique index)."""
    for _ in range(int(seconds / 0.05)):
        async with public_session() as s:
            waiting = await s.scalar(
                select(func.count()).select_from(text("pg_locks")).where(text("NOT granted"))
            )
        if waiting:
            return True
        await asyncio.sleep(0.05)
    return False


async def test_a_vendor_ref_claimed_concurrently_is_a_conflict_and_writes_nothing(client, world):
    other = await _second_interview(client, world)
    ref = world["tenant"].ref
    first = vendor.parse_event(event(world["interview"], "started", "c1", vendor_ref="R-1"))
    second = vendor.parse_event(event(other, "started", "c2", vendor_ref="R-1"))
    async with tenant_session(ref) as a, tenant_session(ref) as b:
        await vendor.apply_event(a, first, "webhook", "vendor")
        await a.flush()  # holds R-1 in the unique index, not yet committed
        # b's check cannot see a's claim; its own write waits for a, then collides.
        claim = asyncio.create_task(vendor.apply_event(b, second, "webhook", "vendor"))
        try:
            assert await _blocked(), "the second claim never waited on the first"
        finally:
            await a.commit()
        try:
            await claim
        except Conflict as exc:
            assert exc.field == "vendor_ref" and "another interview" in exc.message
        else:
            raise AssertionError("the second claim was accepted")
        await b.rollback()
    events = await rows(world["tenant"], VendorEvent)
    assert [e.event_id for e in events] == ["c1"]
    async with tenant_session(ref) as s:
        iv = await s.get(Interview, from_global(other)[1])
        assert iv.vendor_ref is None and iv.state == "scheduled"


async def test_a_vendor_ref_of_another_interview_is_a_409(client, world):
    other = await _second_interview(client, world)
    await set_vendor(client, world["admin"])
    ok = await post_event(
        client, "acme", event(world["interview"], "started", "d1", vendor_ref="Q")
    )
    assert ok.status_code == 200, ok.text
    r = await post_event(client, "acme", event(other, "started", "d2", vendor_ref="Q"))
    assert r.status_code == 409 and "another interview" in r.json()["error"]
    assert (await interview(client, world["admin"], other))["vendorRef"] is None


# --- bodies without a Content-Length --------------------------------------------------


class Chunks:
    """A chunked request body (no Content-Length) that counts what the server read."""

    def __init__(self, chunk: bytes, n: int, head: bytes = b"") -> None:
        self.chunk, self.n, self.head, self.read = chunk, n, head, 0

    async def __aiter__(self):
        if self.head:
            yield self.head
        for _ in range(self.n):
            self.read += 1
            yield self.chunk


async def test_a_chunked_form_over_the_cap_is_refused_while_streaming(client, world):
    body = Chunks(b"x" * 1024, 200, head=b"note=")
    r = await client.post(
        world["link"] + "/reschedule",
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert "content-length" not in r.request.headers
    assert r.status_code == 413, r.text
    assert "Please check what you entered" in r.text
    assert body.read <= routes.MAX_FORM // 1024 + 2  # stopped reading at the cap
    assert await rows(world["tenant"], FollowUp) == []


async def test_a_chunked_form_within_the_cap_is_parsed(client, world):
    body = Chunks(b"+morning", 3, head=b"note=Tuesday")
    r = await client.post(
        world["link"] + "/reschedule",
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded; charset=UTF-8"},
    )
    assert r.status_code == 303, r.text
    [f] = await rows(world["tenant"], FollowUp)
    assert "Tuesday morning morning morning" in f.description


async def test_a_form_of_another_encoding_is_refused(client, world):
    r = await client.post(
        world["link"] + "/problem",
        content=orjson.dumps({"description": "camera"}),
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 415, r.text
    assert "Please check what you entered" in r.text
    assert await rows(world["tenant"], FollowUp) == []
    confirm = await client.post(world["link"] + "/confirm")  # no body at all: fine
    assert confirm.status_code == 303


async def test_a_chunked_vendor_event_over_the_cap_is_refused_while_streaming(client, world):
    await set_vendor(client, world["admin"])
    body = Chunks(b" " * 1024, 200, head=orjson.dumps(event(world["interview"], "started", "b")))
    r = await client.post(
        "/webhooks/interview-vendor/acme",
        content=body,
        headers={
            "content-type": "application/json",
            "x-turnout-signature": sign(VENDOR_SECRET, b""),
        },
    )
    assert "content-length" not in r.request.headers
    assert r.status_code == 413, r.text
    assert body.read <= routes.MAX_EVENT // 1024 + 2
    assert await rows(world["tenant"], VendorEvent) == []
