"""The database side: events cannot be changed by the app's own session; a superuser who
disables the trigger and edits, deletes or inserts rows is caught by the database check; many
concurrent writers keep every chain valid."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.evidence.conftest import add_events
from tests.helpers import make_tenant
from turnout.db.engine import db
from turnout.db.session import tenant_session
from turnout.evidence import canonical as C
from turnout.evidence import service
from turnout.evidence.dbcheck import PER_CHAIN, verify_database
from turnout.evidence.models import NewEvent
from turnout.evidence.tasks import seal_due, seal_if_due


async def _sealed(world, n: int = 5) -> str:
    await add_events(world.tenant, world.candidate, n)
    async with tenant_session(world.tenant.ref) as s:
        await service.seal(s, world.tenant)
        await s.commit()
    return C.candidate_chain(world.candidate)


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE evidence_events SET data = '{}'",
        "DELETE FROM evidence_events",
        "TRUNCATE evidence_events",
        "UPDATE evidence_checkpoints SET root = 'x'",
        "DELETE FROM evidence_checkpoints",
    ],
)
async def test_the_apps_session_cannot_change_evidence(world, sql):
    await _sealed(world)
    async with tenant_session(world.tenant.ref) as s:
        with pytest.raises(DBAPIError, match="append-only"):
            schema = world.tenant.ref.schema
            await s.execute(text(sql.replace("evidence_", f'"{schema}".evidence_')))


async def test_privileges_are_revoked_from_the_owner_and_public(world):
    async with db.engine().connect() as conn:
        acl = (
            await conn.execute(
                text(
                    "SELECT array_agg(DISTINCT a.privilege_type) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) a "
                    "WHERE n.nspname = :s AND c.relname = 'evidence_events'"
                ),
                {"s": world.tenant.ref.schema},
            )
        ).scalar()
    assert acl and "INSERT" in acl and "SELECT" in acl
    assert not {"UPDATE", "DELETE", "TRUNCATE"} & set(acl)


async def _as_superuser(world, *statements: str) -> None:
    """What a superuser could do: switch the trigger off, change rows, switch it back on."""
    table = f'"{world.tenant.ref.schema}".evidence_events'
    async with db.engine().begin() as conn:
        await conn.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        for sql in statements:
            await conn.exec_driver_sql(sql.replace("EVENTS", table))
        await conn.exec_driver_sql(f"ALTER TABLE {table} ENABLE TRIGGER USER")


async def _row(world, seq: int):
    async with tenant_session(world.tenant.ref) as s:
        return (
            await s.execute(
                text(f'SELECT * FROM "{world.tenant.ref.schema}".evidence_events WHERE seq = :q'),
                {"q": seq},
            )
        ).one()


async def test_a_clean_database_verifies(world):
    await _sealed(world)
    await add_events(world.tenant, world.candidate, 2)  # after the checkpoint
    report = await verify_database(world.tenant)
    assert report.ok, report.problems
    assert report.events == world.base + 7


@pytest.mark.parametrize("seq", [1, 3, 5])
async def test_superuser_update_is_named(world, seq):
    await _sealed(world)
    row = await _row(world, seq)
    await _as_superuser(world, f"UPDATE EVENTS SET data = '{{\"x\": 1}}' WHERE id = '{row.id}'")
    report = await verify_database(world.tenant)
    assert [p.message for p in report.problems] == [
        f"candidate:{world.candidate}: event seq {seq} (id {row.id}): hash mismatch "
        "(content changed)"
    ]


@pytest.mark.parametrize("seq", [1, 3, 5])
async def test_superuser_delete_is_named(world, seq):
    await _sealed(world)
    await _as_superuser(world, f"DELETE FROM EVENTS WHERE seq = {seq}")
    report = await verify_database(world.tenant, world.candidate)
    assert any(f"event seq {seq} missing" in p.message for p in report.problems), report.problems


async def test_superuser_insert_is_named(world):
    chain = await _sealed(world)
    seq = world.base + 6  # the next after the head
    last = await _row(world, seq - 1)
    forged = service.event_body(
        id=uuid.uuid4(),
        chain=chain,
        seq=seq,
        prev_hash=last.hash,
        kind="portal.confirmed",
        actor="candidate",
        candidate_id=world.candidate,
        interview_id=None,
        occurred_at=last.occurred_at,
        recorded_at=last.recorded_at,
        data={"forged": True},
    )
    digest = C.event_hash(forged)  # even a correctly hashed, linked row is caught
    await _as_superuser(
        world,
        "INSERT INTO EVENTS (id, chain, seq, prev_hash, hash, kind, actor, candidate_id, "
        f"occurred_at, recorded_at, data) VALUES ('{forged['id']}', '{chain}', {seq}, "
        f"'{last.hash}', '{digest}', 'portal.confirmed', 'candidate', '{world.candidate}', "
        f"'{forged['occurred_at']}', '{forged['recorded_at']}', '{{\"forged\": true}}')",
    )
    report = await verify_database(world.tenant)
    assert any(forged["id"] in p.message and f"seq {seq}" in p.message for p in report.problems), (
        report.problems
    )


async def test_superuser_rewriting_the_sealed_checkpoint_is_caught(world):
    await _sealed(world)
    table = f'"{world.tenant.ref.schema}".evidence_checkpoints'
    async with db.engine().begin() as conn:
        await conn.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        await conn.exec_driver_sql(f"UPDATE {table} SET heads = '[]'::jsonb")
        await conn.exec_driver_sql(f"ALTER TABLE {table} ENABLE TRIGGER USER")
    report = await verify_database(world.tenant)
    assert any("list of chain heads was changed" in p.message for p in report.problems)


async def test_concurrent_writers_keep_every_chain_valid(world):
    """50 candidates x 20 events from 25 tasks, plus 8 writers on one shared candidate."""
    candidates = [uuid.uuid4() for _ in range(50)]
    shared = world.candidate
    rng = random.Random(7)

    async def writer(mine: list[uuid.UUID]) -> None:
        for i in range(20):
            async with tenant_session(world.tenant.ref) as s:
                batch = [
                    NewEvent("link.opened", {"i": i}, "candidate", candidate_id=c) for c in mine
                ]
                rng.shuffle(batch)  # heads are locked in a stable order whatever the input
                await service.record_many(s, batch)
                await s.commit()

    async def shared_writer(w: int) -> None:
        for i in range(10):
            async with tenant_session(world.tenant.ref) as s:
                await service.record(
                    s, "portal.visited", {"w": w, "i": i}, actor="candidate", candidate_id=shared
                )
                await s.commit()

    await asyncio.gather(
        *(writer(candidates[k::25]) for k in range(25)), *(shared_writer(w) for w in range(8))
    )
    async with tenant_session(world.tenant.ref) as s:
        cp = await service.seal(s, world.tenant)
        await s.commit()
    report = await verify_database(world.tenant)
    assert report.ok, report.problems[:5]
    assert report.events == 50 * 20 + 8 * 10 + world.base
    assert cp.chains == 51 and cp.events == 50 * 20 + 8 * 10 + world.base


async def test_seal_due_seals_only_tenants_with_new_events_and_old_checkpoints(world):
    from datetime import timedelta

    from turnout.kit.clock import clock

    quiet = await make_tenant("quiet")  # no candidate, so nothing recorded
    assert not await seal_if_due(quiet, timedelta(minutes=10))  # nothing recorded yet
    await add_events(world.tenant, world.candidate, 2)
    clock.freeze(C.parse_time("2026-12-01T00:00:00.000000Z"))
    assert await seal_due(timedelta(minutes=10)) == 1  # acme; quiet has nothing
    await add_events(world.tenant, world.candidate, 1)
    clock.freeze(C.parse_time("2026-12-01T00:05:00.000000Z"))
    assert not await seal_if_due(world.tenant, timedelta(minutes=10))  # too soon
    clock.freeze(C.parse_time("2026-12-01T00:11:00.000000Z"))
    assert await seal_due(timedelta(minutes=10)) == 1
    assert await seal_due(timedelta(minutes=10)) == 0  # nothing new since


# --- keys and checkpoints from the same database are not enough --------------------------


async def _forge_key(world):
    """A superuser's own key, added to public.evidence_keys next to the tenant's."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from turnout.db.session import public_session
    from turnout.evidence.keys import key_id_for, raw_public
    from turnout.evidence.models import EvidenceKey

    forger = Ed25519PrivateKey.generate()
    raw = raw_public(forger.public_key())
    async with public_session() as s:
        s.add(
            EvidenceKey(
                tenant_id=world.tenant.id,
                key_id=key_id_for(raw),
                public_key=raw,
                wrapped=b"-",
                master_fingerprint="-",
                state="retired",
            )
        )
        await s.commit()
    return key_id_for(raw), forger


async def _rewrite_after(world, seq: int) -> None:
    """As a superuser: change the event at `seq`, re-hash it and every later one, move the
    head row: a chain consistent in itself."""
    from sqlalchemy import select

    from turnout.evidence.models import EvidenceEvent, EvidenceHead

    chain = C.candidate_chain(world.candidate)
    async with tenant_session(world.tenant.ref) as s:
        rows = (
            await s.execute(
                select(EvidenceEvent.__table__)
                .where(EvidenceEvent.chain == chain)
                .order_by(EvidenceEvent.seq)
            )
        ).all()
    events = [service.event_of_row(r) for r in rows]
    statements = []
    for e in events[seq - 1 :]:
        if e["seq"] == seq:
            e["data"] = {"rewritten": True}
        else:
            e["prev_hash"] = events[e["seq"] - 2]["hash"]
        e["hash"] = C.event_hash(e)
        statements.append(
            f"UPDATE EVENTS SET data = '{json.dumps(e['data'])}', prev_hash = "
            f"'{e['prev_hash']}', hash = '{e['hash']}' WHERE id = '{e['id']}'"
        )
    await _as_superuser(world, *statements)
    async with tenant_session(world.tenant.ref) as s:
        head = await s.get(EvidenceHead, chain)
        head.hash = events[-1]["hash"]
        await s.commit()


async def _seal_with(world, key_id: str, forger) -> None:
    """A checkpoint over the current heads, signed with the forger's key."""
    from turnout.evidence.models import EvidenceCheckpoint

    async with tenant_session(world.tenant.ref) as s:
        heads = await service.current_heads(s)
        root = C.merkle_root([C.leaf_hash(h["chain"], h["seq"], h["hash"]) for h in heads]).hex()
        cp_id = uuid.uuid4()
        sealed_at = C.parse_time(C.rfc3339(datetime.now(UTC)))
        statement = C.checkpoint_statement(
            str(world.tenant.id), str(cp_id), C.rfc3339(sealed_at), len(heads), root, key_id
        )
        s.add(
            EvidenceCheckpoint(
                id=cp_id,
                sealed_at=sealed_at,
                heads=heads,
                chains=len(heads),
                events=sum(h["seq"] for h in heads),
                root=root,
                signature=forger.sign(statement).hex(),
                key_id=key_id,
            )
        )
        await s.commit()


async def _genuine_key(world) -> bytes:
    from turnout.evidence.keys import public_key

    return (await public_key(world.tenant.id)).raw


async def test_every_checkpoint_is_checked_not_only_the_latest(world):
    """Rewrite the events sealed by the latest genuine checkpoint (past an older one) and
    re-seal with a key added to the database: the genuine checkpoint's head is gone."""
    await _sealed(world, 2)
    first = world.base + 2
    await add_events(world.tenant, world.candidate, 3)
    async with tenant_session(world.tenant.ref) as s:
        genuine = await service.seal(s, world.tenant)
        await s.commit()
    key_id, forger = await _forge_key(world)
    await _rewrite_after(world, first + 2)
    await _seal_with(world, key_id, forger)
    report = await verify_database(world.tenant, world.candidate)  # was ok
    chain = C.candidate_chain(world.candidate)
    assert (
        f"{chain}: event seq {first + 3}: not the event it sealed (changed or replaced); "
        f"checkpoint {genuine.id} sealed it"
    ) in [p.message for p in report.problems], report.problems
    assert any("seal different events" in p.message for p in report.problems)
    assert not (await verify_database(world.tenant)).ok  # all chains


async def test_a_pinned_key_refuses_checkpoints_signed_with_another(world):
    """Delete every checkpoint, rewrite, re-seal with a key added to the database: only the
    pinned key tells."""
    from turnout.evidence.keys import fingerprint

    await _sealed(world)
    key_id, forger = await _forge_key(world)
    table = f'"{world.tenant.ref.schema}".evidence_checkpoints'
    async with db.engine().begin() as conn:
        await conn.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        await conn.exec_driver_sql(f"DELETE FROM {table}")
        await conn.exec_driver_sql(f"ALTER TABLE {table} ENABLE TRIGGER USER")
    await _rewrite_after(world, 2)
    await _seal_with(world, key_id, forger)
    loose = await verify_database(world.tenant)
    assert loose.ok and not loose.key_verified  # what the database alone cannot prove
    assert any("keys taken from the database itself" in n for n in loose.notes)
    genuine = await _genuine_key(world)
    for report in (
        await verify_database(world.tenant, trusted_key=genuine),
        await verify_database(world.tenant, world.candidate, fingerprint=fingerprint(genuine)),
    ):
        assert any(
            f"signed with key {key_id}" in p.message and "not with the key you gave" in p.message
            for p in report.problems
        ), report.problems


async def test_the_cli_pins_the_key_for_the_database(world, tmp_path):
    from tests.cli import turnout

    await _sealed(world)
    key = tmp_path / "acme.pem"
    key.write_text(
        (await asyncio.to_thread(turnout, "evidence", "public-key", "--tenant", "acme")).stdout
    )
    args = ["evidence", "verify", "--tenant", "acme", "--public-key", str(key)]
    r = await asyncio.to_thread(turnout, *args)
    assert r.returncode == 0 and "VALID" in r.stdout, r.stdout + r.stderr
    key_id, forger = await _forge_key(world)
    await add_events(world.tenant, world.candidate, 1)
    await _seal_with(world, key_id, forger)
    r = await asyncio.to_thread(turnout, *args, "--candidate", str(world.candidate))
    assert r.returncode == 1 and "not with the key you gave" in r.stdout, r.stdout + r.stderr


async def test_a_long_run_of_deleted_rows_is_bounded(world):
    """Every other row of a sealed chain deleted: the walk stops and says so, and the rows
    it did not reach are not called inserted."""
    await _sealed(world, 60)
    await _as_superuser(world, "DELETE FROM EVENTS WHERE seq % 2 = 1")
    report = await verify_database(world.tenant)
    messages = [p.message for p in report.problems]
    assert len(messages) == PER_CHAIN + 1, messages
    assert "stopped after" in messages[-1] and not any("inserted" in m for m in messages)
