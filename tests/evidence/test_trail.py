"""Appending, chaining, sealing and exporting: the happy path and bad input."""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime

import pytest
from sqlalchemy import func, select

from tests.evidence.conftest import add_events
from tests.helpers import make_tenant
from turnout.db.session import tenant_session
from turnout.evidence import canonical as C
from turnout.evidence import service
from turnout.evidence.bundle import build_bundle
from turnout.evidence.models import EvidenceCheckpoint, EvidenceEvent, EvidenceHead, NewEvent
from turnout.evidence.verify import verify_bundle
from turnout.kit.errors import Conflict, InvalidInput, NotFound


async def test_creating_a_candidate_starts_its_chain(world):
    """What every other test here counts from (`world.base`): the one creation event."""
    async with tenant_session(world.tenant.ref) as s:
        rows = list(
            (
                await s.execute(
                    select(EvidenceEvent).order_by(EvidenceEvent.chain, EvidenceEvent.seq)
                )
            ).scalars()
        )
        head = await s.get(EvidenceHead, C.candidate_chain(world.candidate))
    assert world.base == 1
    assert [(e.chain, e.seq, e.prev_hash, e.kind, e.actor, e.candidate_id) for e in rows] == [
        (
            C.candidate_chain(world.candidate),
            1,
            C.GENESIS,
            "candidate.created",
            "user:admin@acme.example",
            world.candidate,
        )
    ]
    assert rows[0].data == {"fields": ["email", "name", "phone"], "consent": {}}
    assert rows[0].interview_id is None
    assert head.seq == 1 and head.hash == rows[0].hash


def test_free_form_actors_become_system_labels():
    assert service.as_actor("demo") == "system:demo"
    assert service.as_actor(" csv  import ") == "system:csv_import"
    assert service.as_actor("") == service.as_actor("  ") == "system"
    for kept in ("candidate", "system", "vendor", "system:csv", "user:rec@acme.example"):
        assert service.as_actor(kept) == kept


async def test_system_label_actors_are_recorded(world):
    async with tenant_session(world.tenant.ref) as s:
        await service.record(
            s, "candidate.updated", {}, actor="system:csv", candidate_id=world.candidate
        )
        await s.commit()
        row = await s.scalar(
            select(EvidenceEvent).where(
                EvidenceEvent.chain == C.candidate_chain(world.candidate),
                EvidenceEvent.seq == world.base + 1,
            )
        )
    assert row.actor == "system:csv" and row.kind == "candidate.updated"


async def test_events_chain_and_bundle_verifies(world):
    await add_events(world.tenant, world.candidate, 7)
    bundle, cand = await build_bundle(world.tenant, world.candidate)
    events = bundle["events"]
    assert [e["seq"] for e in events][-7:] == list(range(len(events) - 6, len(events) + 1))
    assert events[0]["prev_hash"] == C.GENESIS
    for a, b in itertools.pairwise(events):
        assert b["prev_hash"] == a["hash"]
    for e in events:
        assert C.event_hash(e) == e["hash"]
    assert bundle["checkpoint"]["head"]["seq"] == events[-1]["seq"]
    report = verify_bundle(bundle)
    assert report.ok, report.problems
    assert cand.name == "李伟 Li Wei"


async def test_record_defaults_and_tenant_chain(world):
    async with tenant_session(world.tenant.ref) as s:
        await service.record(s, "pack_settings.changed", {"key": "x", "value": 3}, actor="system")
        await s.commit()
        row = await s.scalar(select(EvidenceEvent).where(EvidenceEvent.chain == "tenant"))
        head = await s.get(EvidenceHead, "tenant")
    assert row.seq == 1 and row.candidate_id is None and head.hash == row.hash
    assert row.occurred_at == row.recorded_at  # default: now


async def test_record_adds_to_the_callers_transaction(world):
    async with tenant_session(world.tenant.ref) as s:
        await service.record(
            s, "candidate.updated", {}, actor="system", candidate_id=world.candidate
        )
        await s.rollback()
        n = await s.scalar(
            select(func.count()).where(EvidenceEvent.chain == C.candidate_chain(world.candidate))
        )
        head = await s.get(EvidenceHead, C.candidate_chain(world.candidate))
    assert n == world.base  # only what creating the candidate recorded
    assert head.seq == world.base


@pytest.mark.parametrize(
    "event, field",
    [
        (NewEvent("Sent", {}, "system"), "kind"),
        (NewEvent("notification", {}, "system"), "kind"),
        (NewEvent("link.opened", {}, "someone"), "actor"),
        (NewEvent("link.opened", {}, "system:"), "actor"),
        (NewEvent("link.opened", {}, "system:two words"), "actor"),
        (NewEvent("link.opened", {"x": 1.5}, "system"), "data"),
        (NewEvent("link.opened", {"x": 2**60}, "system"), "data"),
        (NewEvent("link.opened", {"x": "a\x00b"}, "system"), "data"),
        (NewEvent("link.opened", {"x": {1, 2}}, "system"), "data"),
        (NewEvent("link.opened", [1], "system"), "data"),
        (NewEvent("link.opened", {"x": "y" * 70_000}, "system"), "data"),
        (NewEvent("link.opened", {}, "system", occurred_at=datetime(2026, 1, 1)), "occurred_at"),
        (NewEvent("link.opened", {}, "system", candidate_id="abc"), "candidate_id"),
    ],
)
async def test_bad_events_are_refused_and_nothing_is_written(world, event, field):
    good = NewEvent("link.opened", {}, "candidate", candidate_id=world.candidate)
    async with tenant_session(world.tenant.ref) as s:
        with pytest.raises(InvalidInput) as exc:
            await service.record_many(s, [good, event])
        assert exc.value.problems[0].field == f"events[1].{field}"
        await s.commit()
        # nothing beyond what creating the candidate recorded
        assert await s.scalar(select(func.count()).select_from(EvidenceEvent)) == world.base
        head = await s.get(EvidenceHead, C.candidate_chain(world.candidate))
        assert head.seq == world.base


async def test_seal_signs_heads_and_is_idempotent_without_new_events(world):
    quiet = await make_tenant("quiet")  # no candidate, so nothing recorded
    async with tenant_session(quiet.ref) as s:
        with pytest.raises(Conflict):
            await service.seal(s, quiet)
    await add_events(world.tenant, world.candidate, 3)
    async with tenant_session(world.tenant.ref) as s:
        cp = await service.seal(s, world.tenant)
        await s.commit()
        assert cp.chains == 1 and cp.events == world.base + 3
        again = await service.seal(s, world.tenant)
        assert again.id == cp.id
    await add_events(world.tenant, uuid.uuid4(), 2)
    async with tenant_session(world.tenant.ref) as s:
        newer = await service.seal(s, world.tenant)
        await s.commit()
        assert newer.id != cp.id and newer.chains == cp.chains + 1
        assert newer.events == cp.events + 2
        assert (await service.latest_checkpoint(s)).id == newer.id
        assert await s.scalar(select(func.count()).select_from(EvidenceCheckpoint)) == 2


async def test_export_seals_when_the_head_is_not_covered(world):
    await add_events(world.tenant, world.candidate, 2)
    first, _ = await build_bundle(world.tenant, world.candidate)
    same, _ = await build_bundle(world.tenant, world.candidate)
    assert same["checkpoint"]["id"] == first["checkpoint"]["id"]  # still covers the head
    await add_events(world.tenant, world.candidate, 1)
    later, _ = await build_bundle(world.tenant, world.candidate)
    assert later["checkpoint"]["id"] != first["checkpoint"]["id"]
    assert later["checkpoint"]["head"]["seq"] == first["checkpoint"]["head"]["seq"] + 1
    assert verify_bundle(later).ok


async def test_export_of_unknown_or_silent_candidate(world):
    with pytest.raises(NotFound, match="no candidate"):
        await build_bundle(world.tenant, uuid.uuid4())
    async with tenant_session(world.tenant.ref) as s:
        has = await s.get(EvidenceHead, C.candidate_chain(world.candidate))
    if has is None:  # nothing recorded on creation (yet) in this build
        with pytest.raises(NotFound, match="no evidence"):
            await build_bundle(world.tenant, world.candidate)


async def test_bundle_reveals_no_other_candidates_chains(world):
    others = [uuid.uuid4() for _ in range(5)]
    for o in others:
        await add_events(world.tenant, o, 1)
    await add_events(world.tenant, world.candidate, 2)
    bundle, _ = await build_bundle(world.tenant, world.candidate)
    text = str(bundle)
    assert not any(str(o) in text for o in others)
    assert bundle["checkpoint"]["chains"] >= 6
    assert verify_bundle(bundle).ok
