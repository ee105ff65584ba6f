"""The evidence trail: append rate against plain inserts, and offline verification time.

1. Append rate with 1, 4 and 16 concurrent writers, each writer with its own candidates
   (5 each, round robin), one event per transaction through `evidence.service.record` (lock the
   chain head, hash, insert, move the head, commit). Baseline in the same run: the same rows
   (same shape, same values, hashes made up) as plain INSERTs, one per transaction, into an
   unchained table created `LIKE evidence_events` (same columns, indexes and constraints, no
   trigger), through the same engine and session code. Then the same with batches of 100
   events per transaction (`record_many` vs one multi-row INSERT).
2. Verifying a bundle of 100,000 events: the events are appended with the real `record_many`
   (batches of 5,000) to one candidate, the bundle is built with the real export path
   (`bundle.build_bundle`: seal, read, proof; the PDF is left out), serialized to JSON, then
   parsed and verified as `turnout evidence verify` does. Baseline: SHA-256 alone over the same
   events' canonical bytes (the hashing any verifier must do).

Run: python bench/evidence.py [--events 3000] [--bundle 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._db import fresh_database

PASSWORD = "correct horse battery staple"
PER_WRITER = 5  # candidates per writer


def _data(i: int) -> dict:
    return {"channel": "sms", "step": i % 4, "ref": f"p-{i}", "to": "138****5678"}


async def _chained(tenant, writers: int, events: int, batch: int) -> float:
    from turnout.db.session import tenant_session
    from turnout.evidence import service
    from turnout.evidence.models import NewEvent

    per = events // writers

    async def writer() -> None:
        mine = [uuid.uuid4() for _ in range(PER_WRITER)]
        async with tenant_session(tenant.ref) as s:
            for start in range(0, per, batch):
                await service.record_many(
                    s,
                    [
                        NewEvent("notification.sent", _data(i), "system", mine[i % PER_WRITER])
                        for i in range(start, min(per, start + batch))
                    ],
                )
                await s.commit()

    t = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(writers)))
    return per * writers / (time.perf_counter() - t)


async def _plain(tenant, table, writers: int, events: int, batch: int) -> float:
    from turnout.db.session import tenant_session
    from turnout.kit.clock import clock

    per = events // writers

    async def writer() -> None:
        mine = [uuid.uuid4() for _ in range(PER_WRITER)]
        seqs = dict.fromkeys(mine, 0)
        async with tenant_session(tenant.ref) as s:
            for start in range(0, per, batch):
                rows = []
                for i in range(start, min(per, start + batch)):
                    c = mine[i % PER_WRITER]
                    seqs[c] += 1
                    now = clock.now()
                    rows.append(
                        dict(
                            id=uuid.uuid4(),
                            chain=f"candidate:{c}",
                            seq=seqs[c],
                            prev_hash="0" * 64,
                            hash=os.urandom(32).hex(),
                            kind="notification.sent",
                            actor="system",
                            candidate_id=c,
                            interview_id=None,
                            occurred_at=now,
                            recorded_at=now,
                            data=_data(i),
                        )
                    )
                await s.execute(table.insert(), rows)
                await s.commit()

    t = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(writers)))
    return per * writers / (time.perf_counter() - t)


def _plain_table():
    from sqlalchemy import Table

    from turnout.db.base import TenantBase
    from turnout.evidence.models import EvidenceEvent

    src = EvidenceEvent.__table__
    return Table("evidence_plain", TenantBase.metadata, *(c._copy() for c in src.columns))


async def _bundle(tenant, n: int) -> tuple[float, float, float, float, int]:
    from turnout.db.session import tenant_session
    from turnout.evidence import canonical as C
    from turnout.evidence import service
    from turnout.evidence.bundle import build_bundle
    from turnout.evidence.models import NewEvent
    from turnout.evidence.verify import parse_bundle, verify_bundle
    from turnout.recruiting.models import Candidate

    async with tenant_session(tenant.ref) as s:
        cand = Candidate(name="李伟 Li Wei")
        s.add(cand)
        await s.commit()
        cid = cand.id
    t = time.perf_counter()
    for start in range(0, n, 5000):
        async with tenant_session(tenant.ref) as s:
            await service.record_many(
                s,
                [
                    NewEvent("notification.sent", _data(i), "system", cid)
                    for i in range(start, min(n, start + 5000))
                ],
            )
            await s.commit()
    append = time.perf_counter() - t
    t = time.perf_counter()
    bundle, _ = await build_bundle(tenant, cid)
    raw = json.dumps(bundle, ensure_ascii=False, indent=1).encode()
    export = time.perf_counter() - t
    t = time.perf_counter()
    report = verify_bundle(parse_bundle(raw))
    verify = time.perf_counter() - t
    assert report.ok and report.events == n, report.problems[:3]
    bodies = [
        C.EVENT_PREFIX + C.canonical({k: v for k, v in e.items() if k != "hash"})
        for e in bundle["events"]
    ]
    t = time.perf_counter()
    for b in bodies:
        hashlib.sha256(b).hexdigest()
    bare = time.perf_counter() - t
    return append, export, verify, bare, len(raw)


async def main(url: str, events: int, bundle_events: int) -> None:
    os.environ.setdefault("TURNOUT_MASTER_KEY", "A" * 43 + "=")
    from turnout.config import Settings
    from turnout.crypto.keys import keyring
    from turnout.db.engine import db
    from turnout.db.migrate import upgrade_public
    from turnout.tenancy import service as tenancy

    settings = Settings(database_url=url)
    keyring.configure(settings)
    db.configure(settings, url)
    db.pool_size = 20
    async with db.engine().begin() as conn:
        await upgrade_public(conn)
    tenant = await tenancy.create_tenant(
        tenancy.NewTenant(
            slug="evbench",
            name="Evidence bench",
            admin_email="a@evbench.example",
            admin_password=PASSWORD,
            packs=[],
        )
    )
    async with db.engine().begin() as conn:
        await conn.exec_driver_sql(
            f'CREATE TABLE "{tenant.ref.schema}".evidence_plain (LIKE '
            f'"{tenant.ref.schema}".evidence_events INCLUDING ALL)'
        )
    plain = _plain_table()
    await _chained(tenant, 4, 400, 1)  # warm-up: pools, prepared statements
    await _plain(tenant, plain, 4, 400, 1)
    for batch in (1, 100):
        n = events if batch == 1 else events * 10
        for writers in (1, 4, 16):
            # alternate the order, so neither side always runs on a warmer table
            if writers == 4:
                base = await _plain(tenant, plain, writers, n, batch)
                rate = await _chained(tenant, writers, n, batch)
            else:
                rate = await _chained(tenant, writers, n, batch)
                base = await _plain(tenant, plain, writers, n, batch)
            print(
                f"evidence append, {batch} event{'s' if batch > 1 else ''}/transaction, "
                f"{writers:>2} writer{'s' if writers > 1 else ' '}: {rate:7.0f} events/s vs plain "
                f"INSERT {base:7.0f} rows/s -> ratio {rate / base:.2f}  [{n} events]",
                flush=True,
            )
    append, export, verify, bare, size = await _bundle(tenant, bundle_events)
    print(
        f"verify a {bundle_events:,}-event bundle ({size / 1e6:.1f} MB JSON): {verify:.2f} s "
        f"(parse + recompute + walk + signature) vs bare SHA-256 of its events {bare:.2f} s "
        f"-> ratio {verify / bare:.1f}  [built by record_many in {append:.1f} s and the export "
        f"path (seal, read, proof; no PDF) in {export:.1f} s]"
    )
    await db.dispose()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=3200)
    ap.add_argument("--bundle", type=int, default=100_000)
    args = ap.parse_args()
    url, drop = fresh_database()
    try:
        asyncio.run(main(url, args.events, args.bundle))
    finally:
        drop()
