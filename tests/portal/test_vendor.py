"""The AI-interview vendor: its settings (secret never shown), its signed webhook events
(replays ignored, forgeries refused, illegal ones written nowhere) and the same events
through GraphQL for integrators with interviews:write."""

from __future__ import annotations

import time

import orjson
import pytest

from tests.helpers import gql, make_user, token_for
from tests.portal.conftest import (
    SET_VENDOR,
    VENDOR_SECRET,
    event,
    evidence_kinds,
    interview,
    make_world,
    post_event,
    rows,
    set_vendor,
    tenant_named,
)
from turnout.auth import clients
from turnout.db.session import public_session
from turnout.delivery.signing import sign
from turnout.portal import vendor
from turnout.portal.models import FollowUp, InterviewVendorSettings, VendorEvent

VENDOR_Q = "{ interviewVendor { startUrlTemplate hasWebhookSecret webhookUrl } }"
RECORD = """mutation($i: InterviewVendorEventInput!) { recordInterviewVendorEvent(input: $i) {
  __typename ... on InterviewVendorEventPayload { duplicate changed interview { id state }
    followUp { kind } }
  ... on InvalidInputError { errors { path code message } }
  ... on NotFoundError { message path } ... on ConflictError { message path } } }"""


async def _integrator(client, slug: str, scopes: list[str]) -> str:
    async with public_session() as s:
        row, secret = await clients.create_client(s, await tenant_named(slug), "vendor", scopes)
        await s.commit()
    r = await client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(row.client_id, secret)
    )
    return r.json()["access_token"]


async def test_settings_are_validated_and_the_secret_is_never_shown(client, world):
    admin = world["admin"]
    assert (await gql(client, VENDOR_Q, token=admin)).json()["data"]["interviewVendor"] is None
    first = await set_vendor(client, admin, secret=None)
    assert first["__typename"] == "InvalidInputError"
    assert first["errors"][0]["path"] == ["webhookSecret"]
    for template, path in (
        ("ftp://vendor.example/{interview_id}", "startUrlTemplate"),
        ("https://{interview_id}.vendor.example/", "startUrlTemplate"),
        ("https://vendor.example/?x={password}", "startUrlTemplate"),
        ("https://vendor.example/?x={interview_id!r}", "startUrlTemplate"),
    ):
        bad = await set_vendor(client, admin, template)
        assert bad["__typename"] == "InvalidInputError", template
        assert bad["errors"][0]["path"] == [path], template
    short = await set_vendor(client, admin, secret="short")
    assert short["errors"][0]["path"] == ["webhookSecret"]
    assert await rows(world["tenant"], InterviewVendorSettings) == []
    ok = await set_vendor(client, admin)
    assert ok["vendor"]["hasWebhookSecret"] is True and ok["vendor"]["updatedBy"]
    r = await gql(client, VENDOR_Q, token=admin)
    assert VENDOR_SECRET not in r.text
    assert r.json()["data"]["interviewVendor"]["webhookUrl"].endswith(
        "/webhooks/interview-vendor/acme"
    )
    # A new template alone keeps the secret.
    again = await set_vendor(client, admin, "https://other.example/s?i={interview_id}", None)
    assert again["__typename"] == "InterviewVendorPayload"
    assert (
        await post_event(client, "acme", event(world["interview"], "started", "e1"))
    ).status_code == 200
    await make_user("acme", "rec@acme.example", ["recruiter"])
    rec = await token_for(client, "rec@acme.example", "acme")
    denied = await gql(client, SET_VENDOR, {"t": "https://x.example/", "s": None}, token=rec)
    assert denied.json()["data"] is None and "settings.manage" in denied.text
    seen = (await gql(client, VENDOR_Q, token=rec)).json()
    assert seen["data"]["interviewVendor"] is None and "settings.manage" in str(seen["errors"])


def test_outside_development_only_public_https_vendors():
    assert vendor.check_template("https://vendor.example/s?i={interview_id}", False) == []
    assert vendor.check_template("http://vendor.example/s", False)[0].message.startswith(
        "must be an https URL"
    )
    inside = vendor.check_template("https://127.0.0.1/s?i={interview_id}", False)
    assert inside[0].code == "internal_address"
    assert vendor.check_template("http://127.0.0.1/s", True) == []


async def test_signed_events_move_the_interview_once(client, world, caplog):
    await set_vendor(client, world["admin"])
    iid = world["interview"]
    started = event(iid, "started", "evt-1")
    r = await post_event(client, "acme", started)
    assert r.status_code == 200, r.text
    assert r.json() == {"ok": True, "duplicate": False, "changed": True, "state": "started"}
    replay = await post_event(client, "acme", started)
    assert replay.status_code == 200 and replay.json() == {"ok": True, "duplicate": True}
    confirm = await client.post(world["link"] + "/confirm")
    assert confirm.status_code == 409 and "while the interview is started" in confirm.text
    resumed = await post_event(client, "acme", event(iid, "started", "evt-2"))
    assert resumed.json()["changed"] is False  # a resumed session: still started
    done = await post_event(client, "acme", event(iid, "completed", "evt-3"))
    assert done.json()["state"] == "completed"
    assert (await interview(client, world["admin"], iid))["state"] == "completed"
    before = len(await rows(world["tenant"], VendorEvent))
    late = await post_event(client, "acme", event(iid, "started", "evt-4"))
    assert late.status_code == 409 and "completed" in late.json()["error"]
    assert len(await rows(world["tenant"], VendorEvent)) == before  # nothing written
    assert await evidence_kinds(world["tenant"], world["candidate_pk"]) == [
        "vendor.started",
        "vendor.started",
        "vendor.completed",
    ]


async def test_forged_unsigned_and_malformed_events_are_refused(client, world, caplog):
    body = event(world["interview"], "started", "evt-1")
    nothing_yet = await post_event(client, "acme", body)
    assert nothing_yet.status_code == 404 and "no interview vendor" in nothing_yet.json()["error"]
    await set_vendor(client, world["admin"])
    raw = orjson.dumps(body)
    for sig in (None, "", "t=1,v1=00", sign("not-the-secret", raw), "garbage"):
        r = await post_event(client, "acme", raw, secret=None, signature=sig)
        assert r.status_code == 401, sig
    stale = sign(VENDOR_SECRET, raw, at=int(time.time()) - 600)
    assert (await post_event(client, "acme", raw, signature=stale)).status_code == 401
    assert "forged interview-vendor event" in caplog.text
    assert (await post_event(client, "nosuch", body)).status_code == 404
    assert (await post_event(client, "acme", b"{not json")).status_code == 400
    bad = await post_event(client, "acme", {"event_id": "", "type": "exploded"})
    assert bad.status_code == 400
    fields = {p["field"] for p in bad.json()["problems"]}
    assert fields == {"event_id", "type", "interview_id", "occurred_at"}
    unknown = event("00000000-0000-0000-0000-000000000000", "started", "evt-x")
    assert (await post_event(client, "acme", unknown)).status_code == 404
    assert await rows(world["tenant"], VendorEvent) == []
    assert (await interview(client, world["admin"], world["interview"]))["state"] == "scheduled"


async def test_completed_without_started_and_abandoned(client, world):
    await set_vendor(client, world["admin"])
    iid = world["interview"]
    ref = {"vendor_ref": "V-42"}
    left = await post_event(client, "acme", event(iid, "abandoned", "a1", **ref))
    assert left.json()["state"] == "started"  # they came, and left: not a no-show
    fu = await rows(world["tenant"], FollowUp)
    assert [(f.kind, f.urgent) for f in fu] == [("interview_abandoned", False)]
    # Known by the vendor's own reference from now on.
    by_ref = {
        "event_id": "a2",
        "type": "completed",
        "vendor_ref": "V-42",
        "occurred_at": "2030-01-01T10:00:00+08:00",
    }
    assert (await post_event(client, "acme", by_ref)).json()["state"] == "completed"
    mismatch = await post_event(client, "acme", event(iid, "started", "a3", vendor_ref="V-43"))
    assert mismatch.status_code == 409 and "vendor_ref" in mismatch.json()["error"]
    other = await make_world(client, "beta")
    await set_vendor(client, other["admin"])
    # "completed" goes through "started" when that event never came (or comes late).
    direct = await post_event(client, "beta", event(other["interview"], "completed", "c1"))
    assert direct.json() == {"ok": True, "duplicate": False, "changed": True, "state": "completed"}


@pytest.mark.parametrize("scopes", [["interviews:write"], ["interviews:read"]])
async def test_integrators_report_events_through_graphql(client, world, scopes):
    token = await _integrator(client, "acme", scopes)
    inp = {
        "eventId": "g1",
        "type": "started",
        "interviewId": world["interview"],
        "occurredAt": "2030-01-01T10:00:00Z",
    }
    r = await gql(client, RECORD, {"i": inp}, token=token)
    if scopes == ["interviews:read"]:
        assert r.json()["data"] is None and "interviews.write" in r.text
        assert await rows(world["tenant"], VendorEvent) == []
        return
    res = r.json()["data"]["recordInterviewVendorEvent"]
    assert res["__typename"] == "InterviewVendorEventPayload", res
    assert res["interview"]["state"] == "started" and res["duplicate"] is False
    again = (await gql(client, RECORD, {"i": inp}, token=token)).json()
    assert again["data"]["recordInterviewVendorEvent"]["duplicate"] is True
    bad = await gql(client, RECORD, {"i": {**inp, "eventId": "g2", "type": "x"}}, token=token)
    err = bad.json()["data"]["recordInterviewVendorEvent"]
    assert err["__typename"] == "InvalidInputError"
    assert err["errors"][0]["path"] == ["input", "type"]
    completed = {**inp, "eventId": "g3", "type": "completed"}
    assert (await gql(client, RECORD, {"i": completed}, token=token)).json()["data"][
        "recordInterviewVendorEvent"
    ]["interview"]["state"] == "completed"
    late = await gql(client, RECORD, {"i": {**inp, "eventId": "g4"}}, token=token)
    assert late.json()["data"]["recordInterviewVendorEvent"]["__typename"] == "ConflictError"
    kinds = await evidence_kinds(world["tenant"], world["candidate_pk"])
    assert kinds == ["vendor.started", "vendor.completed"]


async def test_another_tenants_integrator_cannot_touch_this_interview(client, world):
    await make_world(client, "beta")
    token = await _integrator(client, "beta", ["interviews:write"])
    inp = {
        "eventId": "x1",
        "type": "started",
        "interviewId": world["interview"],
        "occurredAt": "2030-01-01T10:00:00Z",
    }
    r = await gql(client, RECORD, {"i": inp}, token=token)
    assert r.json()["data"]["recordInterviewVendorEvent"]["__typename"] == "NotFoundError"
    assert (await interview(client, world["admin"], world["interview"]))["state"] == "scheduled"
    # And beta's secret does not sign acme's events.
    await set_vendor(client, world["admin"])
    beta_admin = await token_for(client, "admin@beta.example", "beta")
    await set_vendor(client, beta_admin, secret="beta-secret-0123456789abcdef")
    body = event(world["interview"], "started", "x2")
    forged = await post_event(client, "acme", body, secret="beta-secret-0123456789abcdef")
    assert forged.status_code == 401
    assert (
        await post_event(client, "beta", body, secret="beta-secret-0123456789abcdef")
    ).status_code == 404
    assert (
        (await gql(client, VENDOR_Q, token=beta_admin))
        .json()["data"]["interviewVendor"]["webhookUrl"]
        .endswith("/beta")
    )


async def test_the_vendor_secret_survives_key_rotation(client, world):
    from turnout.crypto import rotation

    await set_vendor(client, world["admin"])
    report = await rotation.rotate(world["tenant"].ref, settle=0)
    assert report.reencrypted >= 2  # the interview's link and the vendor's secret
    vendors = await rows(world["tenant"], InterviewVendorSettings)
    assert int.from_bytes(vendors[0].secret_enc[1:5], "big") == report.new_version
    r = await post_event(client, "acme", event(world["interview"], "started", "r1"))
    assert r.status_code == 200, r.text
