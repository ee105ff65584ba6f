"""The product's own flows write the trail: scheduling, reminders sent, the provider's
receipts, the tracked-link open, recruiter actions, cancelling, pack settings; the export of
that history verifies offline, and the PDF tells the story."""

from __future__ import annotations

import hashlib
import io
import re
from datetime import timedelta

import orjson
from pypdf import PdfReader
from sqlalchemy import select

from tests.helpers import gql, make_tenant, token_for
from turnout.config import get_settings
from turnout.db.session import public_session, tenant_session
from turnout.delivery import tasks
from turnout.delivery.signing import sign
from turnout.evidence import canonical as C
from turnout.evidence.bundle import build_bundle
from turnout.evidence.dbcheck import verify_database
from turnout.evidence.models import EvidenceEvent
from turnout.evidence.pdf import render_timeline_pdf
from turnout.evidence.verify import verify_bundle
from turnout.graphql.relay import from_global
from turnout.kit.clock import clock
from turnout.tenancy.service import set_pack_setting, tenant_by_slug

CANCEL = """mutation($id: ID!) { cancelInterview(id: $id, reason: "candidate withdrew") {
  __typename } }"""


async def _chain(tenant, candidate) -> list[EvidenceEvent]:
    async with tenant_session(tenant.ref) as s:
        rows = await s.execute(
            select(EvidenceEvent)
            .where(EvidenceEvent.chain == C.candidate_chain(candidate))
            .order_by(EvidenceEvent.seq)
        )
        return list(rows.scalars())


async def test_a_candidates_history_is_on_the_trail_and_verifies(client, provider, world):
    tenant = world["tenant"]
    cand = from_global(world["candidate"])[1]
    at = world["opens"] - timedelta(days=2)
    clock.freeze(at)
    await tasks.tick(at, inline=True)  # step 0: SMS and email
    sms = next(m for m in provider.messages if m["channel"] == "sms")
    body = orjson.dumps({"idempotency_key": sms["idempotency_key"], "status": "delivered"})
    secret = get_settings().provider_webhook_secret
    r = await client.post(
        "/webhooks/providers/acme/sms",
        content=body,
        headers={"content-type": "application/json", "x-turnout-signature": sign(secret, body)},
    )
    assert r.json()["queued"] is True
    await tasks.tick(at, inline=True)  # the pass that applies it
    link_url = re.search(r"(\S+/r/[A-Za-z0-9_\-]+)", sms["body"]).group(1)
    link = link_url[link_url.index("/r/") :]
    assert (await client.get(link)).status_code == 303
    admin = await token_for(client, "admin@acme.example", "acme")  # the clock moved
    r = await gql(client, CANCEL, {"id": world["interview"]}, token=admin)
    assert r.json()["data"]["cancelInterview"]["__typename"] == "InterviewPayload", r.json()

    events = await _chain(tenant, cand)
    kinds = [e.kind for e in events]
    for kind in (
        "candidate.created",
        "application.stage_changed",
        "interview.scheduled",
        "notification.sent",
        "notification.delivered",
        "link.opened",
        "interview.state_changed",
    ):
        assert kind in kinds, (kind, kinds)
    sent = [e for e in events if e.kind == "notification.sent"]
    assert {e.data["channel"] for e in sent} == {"sms", "email"}
    sms_event = next(e for e in sent if e.data["channel"] == "sms")
    # word for word what the provider got, but for the tracked link: whoever reads the trail
    # must not be able to act as the candidate
    assert link not in orjson.dumps([e.data for e in events]).decode()
    assert sms_event.data["body"] == sms["body"].replace(link_url, "[link]")
    assert sms_event.data["sent_sha256"] == hashlib.sha256(sms["body"].encode()).hexdigest()
    assert sms_event.data["link_sha256"] == hashlib.sha256(link_url.encode()).hexdigest()
    assert sms_event.data["address_masked"] == "138****5678"
    assert "13812345678" not in orjson.dumps([e.data for e in events]).decode()
    cancelled = next(e for e in events if e.kind == "interview.state_changed")
    assert cancelled.data == {
        "from": "scheduled",
        "to": "cancelled",
        "reason": "candidate withdrew",
    }
    assert cancelled.actor == "user:admin@acme.example"
    opened = [e for e in events if e.kind == "link.opened"]
    assert [e.actor for e in opened] == ["candidate"]
    assert opened[0].data["user_agent"].startswith("python-httpx")  # scanners can be told apart
    assert [e.actor for e in events if e.kind == "notification.delivered"] == ["provider:sms"]

    assert (await verify_database(tenant, cand)).ok
    bundle, _ = await build_bundle(tenant, cand)
    report = verify_bundle(bundle)
    assert report.ok, report.problems
    assert report.events == len(bundle["events"]) >= len(events)
    pdf = render_timeline_pdf(bundle, "zh-CN", "Acme", "Li Wei")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "138****5678" in text and "Li Wei" in text


async def test_pack_setting_changes_go_on_the_tenants_chain(client):
    await make_tenant("stm", packs=["hospital"])
    async with public_session() as s:
        tenant = await tenant_by_slug(s, "stm")
    from turnout.rules.registry import get_pack

    key, spec = next(iter(get_pack("hospital").settings.items()))
    async with tenant_session(tenant.ref) as s:
        await set_pack_setting(s, tenant, "hospital", key, spec.default, None)
        await s.commit()
    async with tenant_session(tenant.ref) as s:
        rows = (
            await s.execute(select(EvidenceEvent).where(EvidenceEvent.chain == C.TENANT_CHAIN))
        ).scalars()
        changes = [e for e in rows if e.kind == "pack_settings.changed"]
    assert [(e.data["pack"], e.data["key"], e.actor) for e in changes] == [
        ("hospital", key, "system")
    ]
